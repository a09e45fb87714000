import Testing
import TestSupport
@testable import BPFVM

/// Random programs, biased towards valid instructions, with wild registers, offsets and
/// immediates: every one is either rejected, runs to an r0, or ends with a `VMError`.
@Suite struct RandomProgramTests {
    static let opcodes: [UInt8] = {
        var ops: [UInt8] = []
        for cls: UInt8 in [0x04, 0x07] {
            for op: UInt8 in [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0, 0xb0, 0xc0] {
                ops += [cls | op, cls | op | 0x08]
            }
            ops += [cls | 0x80, cls | 0xd0]
        }
        ops += [0xdc, 0x05, 0x06, 0x95, 0x85, 0x18, 0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91,
                0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b, 0xc3, 0xdb]
        for cls: UInt8 in [0x05, 0x06] {
            for op: UInt8 in [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0] { ops += [cls | op, cls | op | 0x08] }
        }
        return ops
    }()

    func randomInstruction(_ rng: inout SplitMix64, count: Int) -> [Instruction] {
        let opcode = Self.opcodes.randomElement(using: &rng)!
        let dst = UInt8.random(in: 0 ... 10, using: &rng), src = UInt8.random(in: 0 ... 10, using: &rng)
        let offset = Bool.random(using: &rng) ? Int16.random(in: -4 ... 4, using: &rng) * 8 : Int16.random(in: -520 ... 520, using: &rng)
        var imm = Bool.random(using: &rng) ? Int32.random(in: -3 ... 70, using: &rng) : Int32(truncatingIfNeeded: rng.next())
        switch opcode {
        case 0xd4, 0xdc, 0xd7: imm = [16, 32, 64].randomElement(using: &rng)!
        case 0xc3, 0xdb: imm = [0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1].randomElement(using: &rng)!
        case 0x85: imm = [5, 7, 8, 14, 15, 174, Int32.random(in: -3 ... 3, using: &rng)].randomElement(using: &rng)!
        case 0x18: return [Instruction(opcode: 0x18, dst: dst, imm: imm), Instruction(opcode: 0, imm: Int32(truncatingIfNeeded: rng.next()))]
        default: break
        }
        let jumpOffset = Int16.random(in: -4 ... 4, using: &rng)
        let isJump = opcode & 0x07 == 0x05 || opcode & 0x07 == 0x06
        var ins = Instruction(opcode: opcode, dst: dst, src: src, offset: isJump ? jumpOffset : offset, imm: imm)
        if opcode == 0x85 && Int.random(in: 0 ..< 4, using: &rng) == 0 { ins.src = 1; ins.imm = Int32(jumpOffset) }
        if opcode == 0x06 { ins.imm = Int32(jumpOffset) }
        if opcode & 0x07 == 0x04 || opcode & 0x07 == 0x07 { ins.offset = 0 }
        return [ins]
    }

    @Test func randomProgramsNeverCrash() throws {
        var rng = SplitMix64(seed: 0x5EED_0001)
        var accepted = 0, finished = 0, faulted = 0
        for _ in 0 ..< 20000 {
            let length = Int.random(in: 1 ... 24, using: &rng)
            var ins: [Instruction] = []
            while ins.count < length { ins += randomInstruction(&rng, count: length) }
            ins.append(Instruction(opcode: 0x95))
            guard let vm = try? TestMachine(program: Program(instructions: ins), options: VMOptions(maxInstructions: 2000)) else { continue }
            accepted += 1
            let memory = (0 ..< 64).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }
            do {
                _ = try run(vm, memory)
                finished += 1
            } catch is VMError {
                faulted += 1
            }
        }
        print("random programs: \(accepted) accepted, \(finished) finished, \(faulted) faulted")
        #expect(accepted > 2000 && finished > 500 && faulted > 500)
    }

    /// Raw random bytes: the validator rejects them with a message or they run safely.
    @Test func randomBytesAreRejectedOrRunSafely() {
        var rng = SplitMix64(seed: 0xB17E5)
        var rejected = 0
        for _ in 0 ..< 5000 {
            let bytes = (0 ..< 8 * Int.random(in: 1 ... 6, using: &rng)).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }
            do {
                let vm = try TestMachine(program: Program(bytecode: bytes + [0x95, 0, 0, 0, 0, 0, 0, 0]),
                                         options: VMOptions(maxInstructions: 100))
                _ = try? run(vm, [1, 2, 3])
            } catch {
                rejected += 1
                #expect((error as? VMError)?.kind == .rejected)
            }
        }
        #expect(rejected > 4000)
    }
}

import Testing
import TestSupport
@testable import BPFVM

/// A deliberately plain model of the register-only part of the ISA, evaluated straight from the
/// undecoded `Instruction`s: random programs must leave r0-r9 exactly as the interpreter does.
enum ReferenceModel {
    static func run(_ program: [Instruction]) -> [UInt64] {
        var r = [UInt64](repeating: 0, count: 11)
        var pc = 0
        while pc < program.count {
            let ins = program[pc]
            pc += 1
            let is64 = ins.instructionClass == BPF.classALU64 || ins.instructionClass == BPF.classJMP
            let imm64 = UInt64(bitPattern: Int64(ins.imm))
            let src = ins.usesRegisterSource ? r[Int(ins.src)] : imm64
            let dst = r[Int(ins.dst)]
            switch ins.instructionClass {
            case BPF.classALU, BPF.classALU64:
                let a = is64 ? dst : dst & 0xffff_ffff, b = is64 ? src : src & 0xffff_ffff
                let bits: UInt64 = is64 ? 64 : 32
                func signed(_ x: UInt64) -> Int64 { is64 ? Int64(bitPattern: x) : Int64(Int32(truncatingIfNeeded: x)) }
                var v: UInt64
                switch ins.operation {
                case BPF.add: v = a &+ b
                case BPF.sub: v = a &- b
                case BPF.mul: v = a &* b
                case BPF.div where ins.offset == 0: v = b == 0 ? 0 : a / b
                case BPF.div: v = signed(b) == 0 ? 0 : signed(b) == -1 ? 0 &- a : UInt64(bitPattern: signed(a) / signed(b))
                case BPF.mod where ins.offset == 0: v = b == 0 ? a : a % b
                case BPF.mod: v = signed(b) == 0 ? a : signed(b) == -1 ? 0 : UInt64(bitPattern: signed(a) % signed(b))
                case BPF.or: v = a | b
                case BPF.and: v = a & b
                case BPF.xor: v = a ^ b
                case BPF.lsh: v = a << (b % bits)
                case BPF.rsh: v = a >> (b % bits)
                case BPF.arsh: v = UInt64(bitPattern: signed(a) >> Int64(b % bits))
                case BPF.neg: v = 0 &- a
                case BPF.mov where ins.offset == 0: v = b
                case BPF.mov:
                    let width = UInt64(ins.offset)
                    let low = src & ((1 << width) - 1)
                    v = low & (1 << (width - 1)) != 0 ? low | ~((1 << width) - 1) : low
                default: // byte swaps (end)
                    let width = Int(ins.imm)
                    let swap = is64 || ins.usesRegisterSource
                    let low = width == 64 ? dst : dst & ((1 << UInt64(width)) - 1)
                    r[Int(ins.dst)] = swap ? low.byteSwapped >> UInt64(64 - width) : low   // width-sized, not 32-bit
                    continue
                }
                r[Int(ins.dst)] = is64 ? v : v & 0xffff_ffff
            case BPF.classLD:
                r[Int(ins.dst)] = UInt64(UInt32(bitPattern: ins.imm)) | UInt64(UInt32(bitPattern: program[pc].imm)) << 32
                pc += 1
            default: // jumps (forward only in these programs) and exit
                if ins.opcode == BPF.exitOp { return r }
                if ins.opcode == BPF.jaOp { pc += Int(ins.offset); continue }
                let a = is64 ? dst : dst & 0xffff_ffff, b = is64 ? src : src & 0xffff_ffff
                let sa = is64 ? Int64(bitPattern: a) : Int64(Int32(truncatingIfNeeded: a))
                let sb = is64 ? Int64(bitPattern: b) : Int64(Int32(truncatingIfNeeded: b))
                let taken: Bool
                switch ins.operation {
                case BPF.jeq: taken = a == b
                case BPF.jne: taken = a != b
                case BPF.jgt: taken = a > b
                case BPF.jge: taken = a >= b
                case BPF.jlt: taken = a < b
                case BPF.jle: taken = a <= b
                case BPF.jset: taken = a & b != 0
                case BPF.jsgt: taken = sa > sb
                case BPF.jsge: taken = sa >= sb
                case BPF.jslt: taken = sa < sb
                default: taken = sa <= sb
                }
                if taken { pc += Int(ins.offset) }
            }
        }
        return r
    }
}

@Suite struct ReferenceModelTests {
    static let aluOps: [UInt8] = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0]
    static let jumpOps: [UInt8] = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0]

    func randomProgram(_ rng: inout SplitMix64) -> [Instruction] {
        var ins: [Instruction] = []
        // Seed every register with an interesting value.
        let seeds: [UInt64] = [0, 1, 0xffff_ffff, 0x8000_0000, 0x7fff_ffff, 0x8000_0000_0000_0000, UInt64.max, 63, 64]
        for reg in UInt8(0) ... 9 {
            let v = Bool.random(using: &rng) ? seeds.randomElement(using: &rng)! : rng.next()
            ins += [Instruction(opcode: 0x18, dst: reg, imm: Int32(truncatingIfNeeded: v)), Instruction(opcode: 0, imm: Int32(truncatingIfNeeded: v >> 32))]
        }
        let length = Int.random(in: 5 ... 40, using: &rng)
        for n in 0 ..< length {
            let dst = UInt8.random(in: 0 ... 9, using: &rng), src = UInt8.random(in: 0 ... 9, using: &rng)
            let x = Bool.random(using: &rng)
            let imm = Bool.random(using: &rng) ? Int32.random(in: -2 ... 66, using: &rng) : Int32(truncatingIfNeeded: rng.next())
            switch Int.random(in: 0 ..< 10, using: &rng) {
            case 0 ..< 6:
                let cls: UInt8 = Bool.random(using: &rng) ? 0x07 : 0x04
                var op = Self.aluOps.randomElement(using: &rng)!
                var offset: Int16 = 0
                if (op == 0x30 || op == 0x90) && Bool.random(using: &rng) { offset = 1 }
                if op == 0xb0 && x && Bool.random(using: &rng) { offset = cls == 0x07 ? [8, 16, 32].randomElement(using: &rng)! : [8, 16].randomElement(using: &rng)! }
                if op == 0x80 { ins.append(Instruction(opcode: cls | op, dst: dst)); continue }
                if Int.random(in: 0 ..< 8, using: &rng) == 0 { op = 0xd0 }
                if op == 0xd0 {
                    let swapClass: UInt8 = [0x04, 0x04, 0x07].randomElement(using: &rng)!
                    let source: UInt8 = swapClass == 0x04 && x ? 0x08 : 0
                    ins.append(Instruction(opcode: swapClass | op | source, dst: dst, imm: [16, 32, 64].randomElement(using: &rng)!))
                    continue
                }
                ins.append(Instruction(opcode: cls | op | (x ? 0x08 : 0), dst: dst, src: src, offset: offset, imm: imm))
            case 6 ..< 9:
                let remaining = length - n - 1
                let cls: UInt8 = Bool.random(using: &rng) ? 0x05 : 0x06
                let op = Self.jumpOps.randomElement(using: &rng)!
                ins.append(Instruction(opcode: cls | op | (x ? 0x08 : 0), dst: dst, src: src,
                                       offset: Int16.random(in: 0 ... Int16(remaining), using: &rng), imm: imm))
            default:
                ins.append(Instruction(opcode: 0x05, offset: Int16.random(in: 0 ... Int16(length - n - 1), using: &rng)))
            }
        }
        ins.append(Instruction(opcode: 0x95))
        return ins
    }

    @Test func randomArithmeticAgreesWithTheModel() throws {
        var rng = SplitMix64(seed: 0xA11CE)
        for _ in 0 ..< 3000 {
            let program = randomProgram(&rng)
            let vm = try TestMachine(program: Program(instructions: program))
            _ = try run(vm)
            let interpreted = (0 ... 9).map { vm.registers[$0] }
            let modeled = Array(ReferenceModel.run(program)[0 ... 9])
            #expect(interpreted == modeled, "\(program.indices.map { Disassembler.text(of: Program(instructions: program), at: $0) })")
            if interpreted != modeled { break }
        }
    }
}

import BPFModel
import Testing
@testable import BPFVM

/// `bpf_get_stack` walks frame pointers through memory the program may read, on both engines.
@Suite struct StackHelperTests {
    /// Builds, in the input after its `struct pt_regs` (at 168), three frames whose return
    /// addresses are 0x1111, 0x2222, 0x3333, with `lastNext` as the last frame's saved bp
    /// ("0": the chain ends; otherwise a register), points regs.bp at the first, then calls
    /// get_stack(ctx, r10-64, `size`, `flags`) and copies the 64-byte buffer to input[216...].
    static func program(size: Int, flags: UInt64, lastNext: String = "stdw [%r1+200], 0") -> String {
        let copy = (0 ..< 8).map { "ldxdw %r1, [%r10\(-64 + 8 * $0)]\nstxdw [%r6+\(216 + 8 * $0)], %r1" }.joined(separator: "\n")
        return """
            mov %r6, %r1
            mov %r2, %r1
            add %r2, 168
            stxdw [%r1+32], %r2
            mov %r3, %r1
            add %r3, 184
            stxdw [%r1+168], %r3
            mov %r4, 0x1111
            stxdw [%r1+176], %r4
            mov %r3, %r1
            add %r3, 200
            stxdw [%r1+184], %r3
            mov %r4, 0x2222
            stxdw [%r1+192], %r4
            \(lastNext)
            mov %r4, 0x3333
            stxdw [%r1+208], %r4
            stdw [%r10-64], -1
            mov %r2, %r10
            add %r2, -64
            mov %r3, \(size)
            lddw %r4, \(flags)
            call 67
            mov %r7, %r0
            \(copy)
            mov %r0, %r7
            exit
            """
    }

    /// A pt_regs with ip = 0x4000, room for the frames and the copied buffer.
    static let input: [UInt8] = {
        var bytes = [UInt8](repeating: 0, count: 216 + 64)
        withUnsafeBytes(of: UInt64(0x4000).littleEndian) { bytes.replaceSubrange(X86PTRegs.ip ..< X86PTRegs.ip + 8, with: $0) }
        return bytes
    }()

    static func buffer(_ memory: [UInt8]) -> [UInt64] {
        stride(from: 216, to: 280, by: 8).map { at in memory[at ..< at + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) } }
    }

    @Test func userStacksAreTheIPThenEveryFramesReturnAddress() throws {
        let run = try execute(Self.program(size: 64, flags: 1 << 8), memory: Self.input)
        #expect(run.r0 == 32)
        #expect(Self.buffer(run.memory) == [0x4000, 0x1111, 0x2222, 0x3333, 0, 0, 0, 0])
    }

    @Test func skipDropsTheFirstFramesAndSizeLimitsTheRest() throws {
        let skipped = try execute(Self.program(size: 64, flags: 1 << 8 | 2), memory: Self.input)
        #expect(skipped.r0 == 16)
        #expect(Self.buffer(skipped.memory) == [0x2222, 0x3333, 0, 0, 0, 0, 0, 0])
        // A 24-byte buffer holds three addresses; the rest of the copy is the untouched stack.
        let short = try execute(Self.program(size: 24, flags: 1 << 8), memory: Self.input)
        #expect(short.r0 == 24)
        #expect(Array(Self.buffer(short.memory).prefix(3)) == [0x4000, 0x1111, 0x2222])
    }

    @Test func theWalkStopsAtUnreadableAndNonIncreasingFrames() throws {
        // The last frame's saved bp points outside anything the program may read: no fault, the
        // walk ends after that frame's return address.
        let outside = try execute(Self.program(size: 64, flags: 1 << 8, lastNext: "lddw %r5, 0x7fff00001000\nstxdw [%r1+200], %r5"), memory: Self.input)
        #expect(outside.r0 == 32)
        // A loop (the last frame points back at the first) ends at the first non-increasing link.
        let loop = try execute(Self.program(size: 64, flags: 1 << 8, lastNext: "stxdw [%r1+200], %r2"), memory: Self.input)
        #expect(loop.r0 == 32)
        #expect(Self.buffer(loop.memory) == [0x4000, 0x1111, 0x2222, 0x3333, 0, 0, 0, 0])
    }

    @Test func documentedErrorsZeroTheBuffer() throws {
        for (size, flags, error) in [(64, UInt64(0), -14), (60, 1 << 8, -22), (64, 1 << 8 | 1 << 12, -22), (64, 1 << 8 | 1 << 11, -95)] {
            let run = try execute(Self.program(size: size, flags: flags), memory: Self.input)
            #expect(Int64(bitPattern: run.r0) == Int64(error), "size \(size) flags \(flags)")
            #expect(Self.buffer(run.memory).prefix(size / 8).allSatisfy { $0 == 0 }, "size \(size) flags \(flags)")
        }
        // get_stackid stores into a stack_trace map (BPFAgentTests' StackIDTests); its map
        // argument is checked as every map helper's: anything else faults the run.
        #expect(throws: (any Error).self) { try execute("call 27\nexit") }
    }
}

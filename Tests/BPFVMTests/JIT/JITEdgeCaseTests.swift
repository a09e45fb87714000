import Testing
@testable import BPFVM

/// Instructions whose x86 translation needs care (fixed registers for shifts and division, 32-bit
/// zero extension, cmpxchg's implicit rax), each compared with the interpreter on values that
/// exercise the corner.
@Suite struct JITEdgeCaseTests {
    static let high = "lddw %r0, 0xfedcba9876543210\nlddw %r3, 0x8000000000000000\nlddw %r4, 0x1234567880000001\n"
    /// Folds r0-r9 into r0 so every register's final value is compared.
    static let fold = (1 ... 9).map { "mul %r0, 31\nadd %r0, %r\($0)" }.joined(separator: "\n") + "\nexit"

    static let cases: [String] = [
        // 32-bit shifts whose masked count is 0 must still zero-extend.
        "mov %r1, 32\nlsh32 %r0, %r1", "mov %r1, 32\nrsh32 %r0, %r1", "mov %r1, 64\narsh32 %r0, %r1", "lsh32 %r0, 32",
        "mov %r1, 96\nlsh %r0, %r1", "arsh %r3, 63", "mov %r1, 255\narsh %r0, %r1", "rsh %r0, 64",
        // Shifts with rcx (r4) as destination, source or both.
        "mov %r1, 4\nlsh %r4, %r1", "mov %r4, 7\nrsh %r0, %r4", "arsh %r4, %r4", "mov %r4, 3\narsh32 %r4, %r4",
        // Division and modulo with rax (r0) and rdx (r3) as operands, by zero, by -1, INT_MIN / -1.
        "div %r0, %r3", "div %r3, %r0", "mod %r3, %r0", "mod %r0, %r3", "div %r0, %r0", "mod %r4, %r4",
        "mov %r1, 0\ndiv %r0, %r1", "mov %r1, 0\nmod %r0, %r1", "mov %r1, 0\nmod32 %r0, %r1", "mod32 %r0, 0",
        "lddw %r1, 0x100000000\ndiv32 %r0, %r1", "lddw %r1, 0x100000000\nmod32 %r0, %r1",
        "mov %r1, -1\nsdiv %r3, %r1", "mov %r1, -1\nsmod %r3, %r1", "sdiv %r3, -1", "smod %r3, -1",
        "lsh %r3, 32\nmov32 %r1, -1\nsdiv32 %r0, %r1", "mov %r1, -1\nsmod32 %r4, %r1", "sdiv32 %r4, -1",
        "sdiv %r0, %r3", "smod %r0, %r4", "sdiv32 %r3, %r4", "smod32 %r4, %r0", "sdiv %r0, 0", "smod32 %r0, 0",
        "mov %r1, 7\nsmod %r0, %r1", "mov %r1, -7\nsdiv32 %r0, %r1",
        // Byte swaps and truncations of values with high bits set.
        "le16 %r0", "le32 %r0", "le64 %r0", "be16 %r0", "be32 %r0", "be64 %r0", "bswap16 %r4", "bswap32 %r4", "bswap64 %r4",
        // Sign extensions.
        "movsx8 %r1, %r0", "movsx16 %r1, %r0", "movsx32 %r1, %r4", "movsx832 %r1, %r0", "movsx1632 %r1, %r4",
        "mov32 %r0, %r0", "mov32 %r1, -1", "mov %r1, -1", "neg32 %r0", "neg %r3",
        // Atomics: fetch with r0 as source, 32-bit results zero-extended, cmpxchg's implicit r0.
        "stxdw [%r10-8], %r4\nlock fetch or [%r10-8], %r0\nldxdw %r1, [%r10-8]",
        "stxdw [%r10-8], %r4\nlock fetch and32 [%r10-8], %r0\nldxdw %r1, [%r10-8]",
        "stxdw [%r10-8], %r4\nlock fetch xor [%r10-8], %r3\nldxdw %r1, [%r10-8]",
        "stxdw [%r10-8], %r4\nlock fetch add32 [%r10-8], %r3\nldxdw %r1, [%r10-8]",
        "stxdw [%r10-8], %r4\nlock xchg32 [%r10-8], %r3\nldxdw %r1, [%r10-8]",
        "stxdw [%r10-8], %r4\nlock xchg [%r10-8], %r0\nldxdw %r1, [%r10-8]",
        "stxdw [%r10-8], %r0\nlock cmpxchg [%r10-8], %r3\nldxdw %r1, [%r10-8]",
        "stxdw [%r10-8], %r0\nlock cmpxchg32 [%r10-8], %r3\nldxdw %r1, [%r10-8]",
        "stxdw [%r10-8], %r4\nlock cmpxchg32 [%r10-8], %r3\nldxdw %r1, [%r10-8]",
        "stxdw [%r10-8], %r4\nlock cmpxchg [%r10-8], %r0\nldxdw %r1, [%r10-8]",
        // Branchless skips whose condition reads the skipped instruction's destination.
        "jgt %r0, %r3, +1\nadd %r0, 1", "jset32 %r0, 1, +1\nmov %r0, %r4", "jsle %r4, 0, +1\nxor32 %r4, -1",
    ]

    @Test(arguments: cases)
    func matchesTheInterpreter(_ body: String) throws {
        let runs = try differential(try TestAssembler.program(Self.high + body + "\n" + Self.fold), memory: [])
        #expect(runs.jit == runs.interpreter, "JIT \(runs.jit)\ninterpreter \(runs.interpreter)")
        #expect(runs.jit.r0 != nil)
    }
}

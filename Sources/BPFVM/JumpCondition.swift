/// A conditional jump's test as data read from its opcode, so that one branch-free routine decides
/// every kind: which outcomes of comparing dst with the operand (less, equal, greater) jump,
/// whether the compare is signed, and its width (JMP32 compares the low 32 bits).
/// The interpreter uses it where a jump only skips the next instruction (`InterpreterOperation.fused`).
enum JumpCondition {
    static let less: UInt64 = 1, equal: UInt64 = 2, greater: UInt64 = 4, signed: UInt64 = 8

    /// One nibble per jump operation (`opcode >> 4`), its outcomes and sign: jeq 2 (equal), jgt 4,
    /// jge 6, jne 5 (less or greater), jsgt 0xc, jsge 0xe, jlt 1, jle 3, jslt 9, jsle 0xb. ja, jset,
    /// call and exit have 0: not conditional, or (jset) not a compare.
    static let nibbles: UInt64 = 0x00b9_3100_ec50_6420

    /// The nibble of `opcode`'s operation; 0 for opcodes other than 64-bit conditional jumps.
    static func code(_ opcode: UInt8) -> UInt64 {
        opcode & 0x07 == BPF.classJMP ? nibbles >> (UInt64(opcode >> 4) &* 4) & 0xf : 0
    }

    /// Whether the 64-bit conditional jump `opcode` (one with a nonzero `code`) is taken for dst
    /// value `x` and operand `y`. Signed compares become unsigned ones by flipping both sign bits.
    @inline(__always)
    static func holds(_ opcode: UInt8, _ x: UInt64, _ y: UInt64) -> Bool {
        let code = nibbles >> (UInt64(opcode >> 4) &* 4) & 0xf
        let flip = (code & signed) &<< 60
        let a = x ^ flip, b = y ^ flip
        let outcome: UInt64 = 1 &<< ((a >= b ? 1 : 0) &+ (a > b ? 1 : 0))
        return code & outcome != 0
    }
}

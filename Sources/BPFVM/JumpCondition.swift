/// A conditional jump's test as data read from its opcode, so that one branch-free routine decides
/// every kind, JMP and JMP32 (which compares the low 32 bits). The interpreter uses it where a jump
/// only skips the next instruction (`InterpreterOperation.fused`); `jset` is not described (code 0).
enum JumpCondition {
    /// One nibble per jump operation (`opcode >> 4`): bit 0 jumps when dst is less than the
    /// operand, bit 1 when equal, bit 2 when greater, bit 3 compares signed. jeq 2, jgt 4, jge 6,
    /// jne 5, jsgt 0xc, jsge 0xe, jlt 1, jle 3, jslt 9, jsle 0xb; ja, jset, call and exit 0.
    static let nibbles: UInt64 = 0x00b9_3100_ec50_6420
    static let signed: UInt64 = 8

    /// The nibble of `opcode`'s operation; 0 for opcodes other than conditional jumps.
    static func code(_ opcode: UInt8) -> UInt64 {
        opcode & 0x07 == BPF.classJMP || opcode & 0x07 == BPF.classJMP32 ? nibble(opcode) : 0
    }

    @inline(__always) static func nibble(_ opcode: UInt8) -> UInt64 {
        nibbles >> (UInt64(opcode >> 4) &* 4) & 0xf
    }

    /// Whether the jump `opcode` (one with a nonzero `code`) is taken for dst value `x` and operand
    /// `y`. JMP32 (class 6, where JMP is 5) compares the low 32 bits: shifted to the top, they
    /// compare as the whole values would. Signed compares become unsigned ones by flipping both
    /// sign bits.
    @inline(__always)
    static func holds(_ opcode: UInt8, _ x: UInt64, _ y: UInt64) -> Bool {
        let code = nibble(opcode)
        let narrowing = UInt64(opcode & 0x02) &<< 4   // 32 for JMP32, 0 for JMP
        let flip = (code & signed) &<< 60
        let a = x &<< narrowing ^ flip, b = y &<< narrowing ^ flip
        let outcome: UInt64 = 1 &<< ((a >= b ? 1 : 0) &+ (a > b ? 1 : 0))   // less 1, equal 2, greater 4
        return code & outcome != 0
    }
}

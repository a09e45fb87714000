/// eBPF opcode fields (RFC 9669 §3, §5). An opcode byte is `class | source | operation` for
/// arithmetic and jumps, `class | size | mode` for loads and stores.
public enum BPF {
    // Instruction classes (low 3 bits).
    public static let classLD: UInt8 = 0x00
    public static let classLDX: UInt8 = 0x01
    public static let classST: UInt8 = 0x02
    public static let classSTX: UInt8 = 0x03
    public static let classALU: UInt8 = 0x04
    public static let classJMP: UInt8 = 0x05
    public static let classJMP32: UInt8 = 0x06
    public static let classALU64: UInt8 = 0x07

    // Source bit (arithmetic and jumps).
    public static let sourceK: UInt8 = 0x00
    public static let sourceX: UInt8 = 0x08

    // Arithmetic operations (high 4 bits).
    public static let add: UInt8 = 0x00, sub: UInt8 = 0x10, mul: UInt8 = 0x20, div: UInt8 = 0x30
    public static let or: UInt8 = 0x40, and: UInt8 = 0x50, lsh: UInt8 = 0x60, rsh: UInt8 = 0x70
    public static let neg: UInt8 = 0x80, mod: UInt8 = 0x90, xor: UInt8 = 0xa0, mov: UInt8 = 0xb0
    public static let arsh: UInt8 = 0xc0, end: UInt8 = 0xd0

    // Jump operations (high 4 bits).
    public static let ja: UInt8 = 0x00, jeq: UInt8 = 0x10, jgt: UInt8 = 0x20, jge: UInt8 = 0x30
    public static let jset: UInt8 = 0x40, jne: UInt8 = 0x50, jsgt: UInt8 = 0x60, jsge: UInt8 = 0x70
    public static let call: UInt8 = 0x80, exit: UInt8 = 0x90, jlt: UInt8 = 0xa0, jle: UInt8 = 0xb0
    public static let jslt: UInt8 = 0xc0, jsle: UInt8 = 0xd0

    // Load/store sizes (bits 3-4) and modes (bits 5-7).
    public static let sizeW: UInt8 = 0x00, sizeH: UInt8 = 0x08, sizeB: UInt8 = 0x10, sizeDW: UInt8 = 0x18
    public static let modeMEM: UInt8 = 0x60, modeMEMSX: UInt8 = 0x80
    public static let modeATOMIC: UInt8 = 0xc0

    // Atomic operations (in imm).
    public static let atomicFetch: Int32 = 0x01
    public static let atomicXchg: Int32 = 0xe1
    public static let atomicCmpxchg: Int32 = 0xf1

    // Whole opcodes used on their own.
    public static let lddw: UInt8 = 0x18
    public static let callOp: UInt8 = 0x85
    public static let callxOp: UInt8 = 0x8d
    public static let exitOp: UInt8 = 0x95
    public static let jaOp: UInt8 = 0x05
    public static let ja32Op: UInt8 = 0x06
    public static let atomic32: UInt8 = 0xc3
    public static let atomic64: UInt8 = 0xdb

    // `src` of lddw and call.
    public static let pseudoMapFD: UInt8 = 1
    public static let pseudoMapValue: UInt8 = 2
    public static let pseudoCall: UInt8 = 1

    /// r10, the read-only frame pointer.
    public static let frameRegister: UInt8 = 10
    /// Bytes of stack each frame gets.
    public static let stackFrameSize = 512
}

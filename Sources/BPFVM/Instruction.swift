/// One 8-byte eBPF instruction slot, as in the kernel's `struct bpf_insn` (little-endian).
public struct Instruction: Hashable, Sendable {
    public var opcode: UInt8
    public var dst: UInt8
    public var src: UInt8
    public var offset: Int16
    public var imm: Int32

    public init(opcode: UInt8, dst: UInt8 = 0, src: UInt8 = 0, offset: Int16 = 0, imm: Int32 = 0) {
        self.opcode = opcode
        self.dst = dst & 0x0f
        self.src = src & 0x0f
        self.offset = offset
        self.imm = imm
    }

    /// Decodes the slot at `bytes[start..<start+8]`; the caller guarantees the 8 bytes exist.
    init<C: RandomAccessCollection>(slot bytes: C, at start: C.Index) where C.Element == UInt8 {
        func byte(_ i: Int) -> UInt8 { bytes[bytes.index(start, offsetBy: i)] }
        opcode = byte(0)
        dst = byte(1) & 0x0f
        src = byte(1) >> 4
        offset = Int16(bitPattern: UInt16(byte(2)) | UInt16(byte(3)) << 8)
        imm = Int32(bitPattern: UInt32(byte(4)) | UInt32(byte(5)) << 8 | UInt32(byte(6)) << 16 | UInt32(byte(7)) << 24)
    }

    /// The 8 little-endian bytes of this slot.
    public var bytes: [UInt8] {
        let o = UInt16(bitPattern: offset), i = UInt32(bitPattern: imm)
        return [opcode, src << 4 | dst, UInt8(o & 0xff), UInt8(o >> 8),
                UInt8(i & 0xff), UInt8(i >> 8 & 0xff), UInt8(i >> 16 & 0xff), UInt8(i >> 24)]
    }

    @inline(__always) public var instructionClass: UInt8 { opcode & 0x07 }
    /// Arithmetic/jump operation (high 4 bits).
    @inline(__always) public var operation: UInt8 { opcode & 0xf0 }
    /// Register (X) rather than immediate (K) source.
    @inline(__always) public var usesRegisterSource: Bool { opcode & BPF.sourceX != 0 }
    /// First slot of a 64-bit immediate load (takes two slots).
    @inline(__always) public var isWide: Bool { opcode == BPF.lddw }
    /// A bpf-to-bpf call (target `pc + imm + 1`).
    @inline(__always) public var isLocalCall: Bool { opcode == BPF.callOp && src == BPF.pseudoCall }
}

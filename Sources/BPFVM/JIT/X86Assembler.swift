/// x86-64 general-purpose registers, numbered as in the ModRM/REX encoding.
enum X86Reg: UInt8, CaseIterable {
    case rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15

    var low3: UInt8 { rawValue & 7 }
    var extended: Bool { rawValue >= 8 }
}

/// Condition codes (the low nibble of `jcc`/`setcc`).
enum X86Cond: UInt8 {
    case o = 0, no, b, ae, e, ne, be, a, s, ns, p, np, l, ge, le, g

    /// The opposite condition (the low bit flips it).
    var inverse: X86Cond { X86Cond(rawValue: rawValue ^ 1) ?? self }
}

/// A register or a `[base + disp]` memory operand.
enum X86Operand {
    case reg(X86Reg)
    case mem(X86Reg, Int32)
}

/// Operand width of an instruction.
enum X86Width {
    case b8, b16, b32, b64
}

/// A forward or backward jump target inside one `X86Assembler`.
struct X86Label: Hashable {
    fileprivate let id: Int
}

/// Growable byte storage without an array's per-append uniqueness check (the JIT appends millions
/// of bytes for large programs).
final class CodeBuffer {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    @inline(__always) func append(_ b: UInt8) {
        if count == capacity { grow() }
        base[count] = b
        count += 1
    }

    private func grow() {
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity *= 2
    }

    var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }
}

/// A small x86-64 encoder: only the instructions the JIT needs, as bytes appended to `code`.
/// Jumps always use rel32 so code size does not depend on label positions.
struct X86Assembler {
    private let buffer: CodeBuffer
    var code: [UInt8] { buffer.bytes }
    private var labelOffsets: [Int?] = []
    /// (position of a rel32 field, label it points at)
    private var fixups: [(at: Int, label: Int)] = []

    /// `capacity` bytes and `labels` labels are reserved, so that a large program's code and
    /// labels do not grow (and get copied) step by step.
    init(capacity: Int = 0, labels: Int = 0) {
        buffer = CodeBuffer(capacity: capacity)
        labelOffsets.reserveCapacity(labels)
    }

    // MARK: Raw encoding

    @inline(__always) mutating func byte(_ b: UInt8) { buffer.append(b) }

    mutating func int32(_ v: Int32) {
        let u = UInt32(bitPattern: v)
        byte(UInt8(u & 0xff))
        byte(UInt8(u >> 8 & 0xff))
        byte(UInt8(u >> 16 & 0xff))
        byte(UInt8(u >> 24))
    }

    mutating func int16(_ v: Int16) {
        let u = UInt16(bitPattern: v)
        byte(UInt8(u & 0xff))
        byte(UInt8(u >> 8))
    }

    mutating func int64(_ v: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { byte(UInt8(v >> UInt64(shift) & 0xff)) }
    }

    /// Emits `[prefix] [REX] [0F] opcode ModRM [SIB] [disp]` with `reg` in the ModRM reg field
    /// (a register number or an opcode extension /digit); `escape` adds the 0F byte.
    private mutating func op(_ opcode: UInt8, escape: Bool = false, reg: UInt8, _ rm: X86Operand, _ width: X86Width,
                             prefix: UInt8? = nil) {
        if width == .b16 { byte(0x66) }
        if let prefix { byte(prefix) }
        let base: X86Reg
        switch rm { case .reg(let r): base = r; case .mem(let r, _): base = r }
        var rex: UInt8 = 0x40
        if width == .b64 { rex |= 8 }
        if reg & 8 != 0 { rex |= 4 }
        if base.extended { rex |= 1 }
        // Byte access to spl/bpl/sil/dil needs a REX prefix, or it means ah/ch/dh/bh.
        var needsRex = rex != 0x40
        if width == .b8 {
            if (4...7).contains(reg) && isByteRegOperand(opcode, escape: escape) { needsRex = true }
            if case .reg(let r) = rm, (4...7).contains(r.rawValue) { needsRex = true }
        }
        if needsRex { byte(rex) }
        if escape { byte(0x0f) }
        byte(opcode)
        switch rm {
        case .reg(let r):
            byte(0xc0 | (reg & 7) << 3 | r.low3)
        case .mem(let r, let disp):
            let mod: UInt8 = disp == 0 && r.low3 != 5 ? 0 : (Int8(exactly: disp) != nil ? 1 : 2)
            byte(mod << 6 | (reg & 7) << 3 | r.low3)
            if r.low3 == 4 { byte(0x24) }
            if mod == 1 { byte(UInt8(bitPattern: Int8(truncatingIfNeeded: disp))) }
            if mod == 2 { int32(disp) }
        }
    }

    /// Whether the reg field of this byte-width opcode names a byte register (stores, xchg, xadd)
    /// rather than an opcode extension.
    private func isByteRegOperand(_ opcode: UInt8, escape: Bool) -> Bool {
        escape ? opcode == 0xc0 || opcode == 0xb0 : opcode == 0x88 || opcode == 0x86
    }

    // MARK: Moves

    /// `mov dst, src` (32-bit zero-extends).
    mutating func mov(_ dst: X86Reg, _ src: X86Reg, _ width: X86Width = .b64) {
        op(0x89, reg: src.rawValue, .reg(dst), width)
    }

    /// The shortest `mov` loading the 64-bit value `imm`.
    mutating func movImm(_ dst: X86Reg, _ imm: UInt64) {
        if imm == 0 {
            op(0x31, reg: dst.rawValue, .reg(dst), .b32)  // xor r32, r32
        } else if imm <= UInt64(UInt32.max) {
            if dst.extended { byte(0x41) }
            byte(0xb8 + dst.low3)
            int32(Int32(bitPattern: UInt32(imm)))
        } else if Int64(bitPattern: imm) >= Int64(Int32.min) && Int64(bitPattern: imm) < 0 {
            op(0xc7, reg: 0, .reg(dst), .b64)
            int32(Int32(truncatingIfNeeded: Int64(bitPattern: imm)))
        } else {
            byte(0x48 | (dst.extended ? 1 : 0))
            byte(0xb8 + dst.low3)
            int64(imm)
        }
    }

    /// Load of `width` bytes, zero-extended to 64 bits.
    mutating func load(_ dst: X86Reg, _ src: X86Operand, _ width: X86Width) {
        switch width {
        case .b8: op(0xb6, escape: true, reg: dst.rawValue, src, .b32)
        case .b16: op(0xb7, escape: true, reg: dst.rawValue, src, .b32)
        case .b32: op(0x8b, reg: dst.rawValue, src, .b32)
        case .b64: op(0x8b, reg: dst.rawValue, src, .b64)
        }
    }

    /// `mov dst32, fs:[offset]`: 4 bytes at `offset` from the thread pointer, zero-extended.
    mutating func loadThreadLocal32(_ dst: X86Reg, at offset: Int32) {
        byte(0x64)
        if dst.extended { byte(0x44) }
        byte(0x8b)
        byte(0x04 | dst.low3 << 3)  // ModRM mod=00 rm=100: a SIB follows
        byte(0x25)                  // SIB without base or index: a 32-bit displacement alone
        int32(offset)
    }

    /// Load (or register move) of `width` bytes, sign-extended to 64 bits.
    mutating func loadSigned(_ dst: X86Reg, _ src: X86Operand, _ width: X86Width) {
        switch width {
        case .b8: op(0xbe, escape: true, reg: dst.rawValue, src, .b64)
        case .b16: op(0xbf, escape: true, reg: dst.rawValue, src, .b64)
        case .b32: op(0x63, reg: dst.rawValue, src, .b64)
        case .b64: op(0x8b, reg: dst.rawValue, src, .b64)
        }
    }

    /// `movsx r32, r8/r16`: sign-extends to 32 bits, zeroing the upper half.
    mutating func movsx32(_ dst: X86Reg, _ src: X86Reg, _ width: X86Width) {
        if width == .b8 {
            op(0xbe, escape: true, reg: dst.rawValue, .reg(src), .b8)
        } else {
            op(0xbf, escape: true, reg: dst.rawValue, .reg(src), .b32)
        }
    }

    /// `movzx r32, r16` (or r8).
    mutating func movzx(_ dst: X86Reg, _ src: X86Reg, _ width: X86Width) {
        op(width == .b8 ? 0xb6 : 0xb7, escape: true, reg: dst.rawValue, .reg(src), width == .b8 ? .b8 : .b32)
    }

    mutating func store(_ dst: X86Operand, _ src: X86Reg, _ width: X86Width) {
        op(width == .b8 ? 0x88 : 0x89, reg: src.rawValue, dst, width)
    }

    /// Store of an immediate; the 64-bit form sign-extends `imm`.
    mutating func storeImm(_ dst: X86Operand, _ imm: Int32, _ width: X86Width) {
        switch width {
        case .b8: op(0xc6, reg: 0, dst, .b8); byte(UInt8(truncatingIfNeeded: imm))
        case .b16: op(0xc7, reg: 0, dst, .b16); int16(Int16(truncatingIfNeeded: imm))
        case .b32, .b64: op(0xc7, reg: 0, dst, width); int32(imm)
        }
    }

    mutating func lea(_ dst: X86Reg, _ base: X86Reg, _ disp: Int32) {
        op(0x8d, reg: dst.rawValue, .mem(base, disp), .b64)
    }

    /// `cmovCC dst, src` (64-bit).
    mutating func cmov(_ cond: X86Cond, _ dst: X86Reg, _ src: X86Reg) {
        op(0x40 | cond.rawValue, escape: true, reg: dst.rawValue, .reg(src), .b64)
    }

    // MARK: Arithmetic

    enum ALUOp: UInt8 {
        // The value is the /digit of the 0x81 group; the reg-reg opcode is digit*8 + 1.
        case add = 0, or = 1, and = 4, sub = 5, xor = 6, cmp = 7
    }

    /// `op dst, src`
    mutating func alu(_ o: ALUOp, _ dst: X86Operand, _ src: X86Reg, _ width: X86Width = .b64) {
        op(o.rawValue << 3 | 1, reg: src.rawValue, dst, width)
    }

    /// `op dst, src` with a memory source.
    mutating func alu(_ o: ALUOp, _ dst: X86Reg, _ src: X86Operand, _ width: X86Width = .b64) {
        op(o.rawValue << 3 | 3, reg: dst.rawValue, src, width)
    }

    /// `op dst, imm` (64-bit forms sign-extend the immediate).
    mutating func alu(_ o: ALUOp, _ dst: X86Operand, imm: Int32, _ width: X86Width = .b64) {
        if let short = Int8(exactly: imm) {
            op(0x83, reg: o.rawValue, dst, width)
            byte(UInt8(bitPattern: short))
        } else {
            op(0x81, reg: o.rawValue, dst, width)
            int32(imm)
        }
    }

    mutating func test(_ a: X86Reg, _ b: X86Reg, _ width: X86Width = .b64) {
        op(0x85, reg: b.rawValue, .reg(a), width)
    }

    mutating func test(_ a: X86Reg, imm: Int32, _ width: X86Width = .b64) {
        op(0xf7, reg: 0, .reg(a), width)
        int32(imm)
    }

    mutating func imul(_ dst: X86Reg, _ src: X86Reg, _ width: X86Width = .b64) {
        op(0xaf, escape: true, reg: dst.rawValue, .reg(src), width)
    }

    mutating func imul(_ dst: X86Reg, _ src: X86Reg, imm: Int32, _ width: X86Width = .b64) {
        if let short = Int8(exactly: imm) {
            op(0x6b, reg: dst.rawValue, .reg(src), width)
            byte(UInt8(bitPattern: short))
        } else {
            op(0x69, reg: dst.rawValue, .reg(src), width)
            int32(imm)
        }
    }

    mutating func neg(_ r: X86Reg, _ width: X86Width = .b64) { op(0xf7, reg: 3, .reg(r), width) }

    /// Unsigned (`div`) or signed (`idiv`) division of rdx:rax (edx:eax) by `src`.
    mutating func div(_ src: X86Reg, signed: Bool, _ width: X86Width = .b64) {
        op(0xf7, reg: signed ? 7 : 6, .reg(src), width)
    }

    /// `cqo` / `cdq`: sign-extends rax into rdx.
    mutating func signExtendAccumulator(_ width: X86Width) {
        if width == .b64 { byte(0x48) }
        byte(0x99)
    }

    enum ShiftOp: UInt8 { case rol = 0, shl = 4, shr = 5, sar = 7 }

    mutating func shiftByCL(_ o: ShiftOp, _ r: X86Reg, _ width: X86Width = .b64) {
        op(0xd3, reg: o.rawValue, .reg(r), width)
    }

    mutating func shift(_ o: ShiftOp, _ r: X86Reg, by count: UInt8, _ width: X86Width = .b64) {
        op(0xc1, reg: o.rawValue, .reg(r), width)
        byte(count)
    }

    mutating func bswap(_ r: X86Reg, _ width: X86Width) {
        let rex: UInt8 = 0x40 | (width == .b64 ? 8 : 0) | (r.extended ? 1 : 0)
        if rex != 0x40 { byte(rex) }
        byte(0x0f)
        byte(0xc8 + r.low3)
    }

    // MARK: Atomics

    mutating func lockXadd(_ dst: X86Operand, _ src: X86Reg, _ width: X86Width) {
        op(0xc1, escape: true, reg: src.rawValue, dst, width, prefix: 0xf0)
    }

    /// `xchg [m], r` (locked by definition).
    mutating func xchg(_ dst: X86Operand, _ src: X86Reg, _ width: X86Width) {
        op(0x87, reg: src.rawValue, dst, width)
    }

    /// `lock cmpxchg [m], r`: compares rax/eax with `[m]`.
    mutating func lockCmpxchg(_ dst: X86Operand, _ src: X86Reg, _ width: X86Width) {
        op(0xb1, escape: true, reg: src.rawValue, dst, width, prefix: 0xf0)
    }

    /// `lock add/or/and/xor [m], r`
    mutating func lockALU(_ o: ALUOp, _ dst: X86Operand, _ src: X86Reg, _ width: X86Width) {
        op(o.rawValue << 3 | 1, reg: src.rawValue, dst, width, prefix: 0xf0)
    }

    // MARK: Control flow

    mutating func newLabel() -> X86Label {
        labelOffsets.append(nil)
        return X86Label(id: labelOffsets.count - 1)
    }

    mutating func bind(_ label: X86Label) { labelOffsets[label.id] = buffer.count }

    private mutating func rel32(to label: X86Label) {
        fixups.append((buffer.count, label.id))
        int32(0)
    }

    mutating func jmp(_ label: X86Label) { byte(0xe9); rel32(to: label) }

    mutating func jcc(_ cond: X86Cond, _ label: X86Label) {
        byte(0x0f)
        byte(0x80 | cond.rawValue)
        rel32(to: label)
    }

    /// `call rel32` to a label (local eBPF calls).
    mutating func call(_ label: X86Label) { byte(0xe8); rel32(to: label) }

    mutating func call(_ target: X86Operand) { op(0xff, reg: 2, target, .b32) }

    mutating func push(_ r: X86Reg) {
        if r.extended { byte(0x41) }
        byte(0x50 + r.low3)
    }

    mutating func pop(_ r: X86Reg) {
        if r.extended { byte(0x41) }
        byte(0x58 + r.low3)
    }

    mutating func ret() { byte(0xc3) }

    /// Pads with no-ops to a multiple of `boundary` (a power of two up to 64), as compilers align
    /// loop tops: a small loop that straddles a 32-byte fetch block costs an extra cycle a turn.
    mutating func align(_ boundary: Int) {
        var gap = (boundary - buffer.count % boundary) % boundary
        while gap > 0 {
            let n = min(gap, Self.nops.count)
            for b in Self.nops[n - 1] { byte(b) }
            gap -= n
        }
    }

    /// The recommended multi-byte `nop` of each length 1-9 (Intel SDM, `nop`; AMD's are the same).
    private static let nops: [[UInt8]] = [
        [0x90], [0x66, 0x90], [0x0f, 0x1f, 0x00], [0x0f, 0x1f, 0x40, 0x00], [0x0f, 0x1f, 0x44, 0x00, 0x00],
        [0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00], [0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
        [0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00], [0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
    ]

    /// Resolves every jump; `nil` when a label was used but never bound.
    mutating func finish() -> [UInt8]? {
        for (at, id) in fixups {
            guard let target = labelOffsets[id] else { return nil }
            let rel = Int32(truncatingIfNeeded: target - (at + 4))
            let u = UInt32(bitPattern: rel)
            let p = buffer.base + at
            p[0] = UInt8(u & 0xff)
            p[1] = UInt8(u >> 8 & 0xff)
            p[2] = UInt8(u >> 16 & 0xff)
            p[3] = UInt8(u >> 24)
        }
        fixups.removeAll()
        return buffer.bytes
    }
}

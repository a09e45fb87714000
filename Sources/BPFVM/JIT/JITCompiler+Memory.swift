/// Loads, stores and atomics: bounds checks and the atomic read-modify-write sequences.
extension JITCompiler {
    /// Bounds check of `[base + offset, +size)`. Accesses inside the current frame at a constant
    /// offset from r10 need none, nor do those through a versioned loop's checked pointer; others
    /// try the fast region inline and the rest out of line.
    mutating func checkAccess(base: X86Reg, offset: Int32, size: Int32, write: Bool, index: Int) {
        if base == .rbp && offset >= -Self.frameSize && offset + size <= 0 { return }
        if base == provenBase { return }
        let stub = a.newLabel(), resume = a.newLabel()
        if offset == 0 { a.mov(.r10, base) } else { a.lea(.r10, base, offset) }
        a.alu(.sub, .reg(.r10), Self.fastLow)
        a.alu(.cmp, .reg(.r10), Self.fastLimit)
        a.jcc(.a, stub)
        a.bind(resume)
        stubs.append(.access(label: stub, resume: resume, base: base, offset: offset, size: size, write: write, index: index))
    }

    mutating func atomic(_ i: DecodedInstruction, at index: Int) {
        let w: X86Width = i.opcode == BPF.atomic64 ? .b64 : .b32
        let size: Int32 = w == .b64 ? 8 : 4
        let d = reg(i.dst), s = reg(i.src)
        checkAccess(base: d, offset: i.offset, size: size, write: true, index: index)
        let misaligned = a.newLabel()
        a.lea(.r10, d, i.offset)
        a.test(.r10, imm: size - 1)
        a.jcc(.ne, misaligned)
        stubs.append(.misaligned(label: misaligned, index: index))
        let memory = X86Operand.mem(.r10, 0)
        let op = Int32(truncatingIfNeeded: i.imm)
        let fetch = op & BPF.atomicFetch != 0
        switch op {
        case BPF.atomicXchg:
            a.xchg(memory, s, w)
        case BPF.atomicCmpxchg:
            a.lockCmpxchg(memory, s, w)
            if w == .b32 { a.mov(.rax, .rax, .b32) }
        case 0x00, 0x01:
            if fetch { a.lockXadd(memory, s, w) } else { a.lockALU(.add, memory, s, w) }
        default:
            let aluOp: X86Assembler.ALUOp = op & ~BPF.atomicFetch == 0x40 ? .or : op & ~BPF.atomicFetch == 0x50 ? .and : .xor
            if !fetch { a.lockALU(aluOp, memory, s, w); return }
            // old = [m]; repeat { new = old op src } until cmpxchg succeeds; rax is r0, kept in r9
            // (r9 and r11 are borrowed from the bounds check and restored).
            a.push(.r9)
            a.push(.r11)
            let operand = s == .rax ? X86Reg.r9 : s
            a.mov(.r9, .rax)
            a.load(.rax, memory, w)
            let again = a.newLabel()
            a.bind(again)
            a.mov(.r11, .rax)
            a.alu(aluOp, .reg(.r11), operand, w)
            a.lockCmpxchg(memory, .r11, w)
            a.jcc(.ne, again)
            if s != .rax {
                a.mov(s, .rax, w)
                a.mov(.rax, .r9)
            } else if w == .b32 {
                a.mov(.rax, .rax, .b32)
            }
            a.pop(.r11)
            a.pop(.r9)
        }
    }
}

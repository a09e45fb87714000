/// ALU and jump translation: x86 registers fixed by the ISA (cl for shifts, rdx:rax for division)
/// and the cases where x86 would trap or differ from eBPF.
extension JITCompiler {
    mutating func alu(_ i: DecodedInstruction) throws {
        let w: X86Width = i.opcode & 7 == BPF.classALU64 ? .b64 : .b32
        let byRegister = i.opcode & BPF.sourceX != 0
        let d = reg(i.dst), s = reg(i.src)
        let k32 = Int32(truncatingIfNeeded: i.imm)
        func simple(_ op: X86Assembler.ALUOp) {
            if byRegister { a.alu(op, .reg(d), s, w) } else { a.alu(op, .reg(d), imm: k32, w) }
        }
        switch i.opcode & 0xf0 {
        case BPF.add: simple(.add)
        case BPF.sub: simple(.sub)
        case BPF.or: simple(.or)
        case BPF.and: simple(.and)
        case BPF.xor: simple(.xor)
        case BPF.mul:
            if byRegister { a.imul(d, s, w) } else { a.imul(d, d, imm: k32, w) }
        case BPF.neg:
            a.neg(d, w)
        case BPF.mov:
            if byRegister {
                if d != s || w == .b32 { a.mov(d, s, w) }
            } else {
                a.movImm(d, w == .b64 ? UInt64(bitPattern: i.imm) : UInt64(UInt32(bitPattern: k32)))
            }
        case BPF.lsh: shift(.shl, i, w)
        case BPF.rsh: shift(.shr, i, w)
        case BPF.arsh: shift(.sar, i, w)
        case BPF.div: divide(i, w, signed: false, remainder: false)
        case BPF.mod: divide(i, w, signed: false, remainder: true)
        case 0xe0: divide(i, w, signed: true, remainder: false)
        case 0xf0: divide(i, w, signed: true, remainder: true)
        case BPF.end:
            byteSwap(d, bits: i.imm, swap: i.opcode != 0xd4)
        default:
            throw JITError.internalError("unknown ALU opcode 0x\(Disassembler.hex(i.opcode))")
        }
    }

    /// Shifts mask their count like the interpreter's `&<<`: by 63 (64-bit) or 31 (32-bit), as x86 does.
    mutating func shift(_ op: X86Assembler.ShiftOp, _ i: DecodedInstruction, _ w: X86Width) {
        let d = reg(i.dst), s = reg(i.src)
        if i.opcode & BPF.sourceX == 0 {
            let count = UInt8(truncatingIfNeeded: i.imm) & (w == .b64 ? 63 : 31)
            if count != 0 { a.shift(op, d, by: count, w) } else if w == .b32 { a.mov(d, d, .b32) }
        } else if s == .rcx {
            a.shiftByCL(op, d, w)
        } else {
            // The count must be in cl, where r4 lives: park r4 in r10 (and shift it there when it
            // is the destination); rcx then gets r4 back, or the result.
            a.mov(.r10, .rcx)
            a.mov(.rcx, s)
            a.shiftByCL(op, d == .rcx ? .r10 : d, w)
            a.mov(.rcx, .r10)
        }
    }

    mutating func byteSwap(_ d: X86Reg, bits: Int64, swap: Bool) {
        switch (bits, swap) {
        case (16, false): a.movzx(d, d, .b16)
        case (32, false): a.mov(d, d, .b32)
        case (16, true):
            a.shift(.rol, d, by: 8, .b16)
            a.movzx(d, d, .b16)
        case (32, true): a.bswap(d, .b32)
        case (_, true): a.bswap(d, .b64)
        default: break
        }
    }

    /// Division and modulo with the ISA's results where x86 would trap or differ: x / 0 = 0,
    /// x % 0 = x (truncated to 32 bits for ALU32), signed x / -1 = -x and x % -1 = 0.
    mutating func divide(_ i: DecodedInstruction, _ w: X86Width, signed: Bool, remainder: Bool) {
        let d = reg(i.dst)
        func zeroDivisor(_ a: inout X86Assembler) {
            if !remainder { a.movImm(d, 0) } else if w == .b32 { a.mov(d, d, .b32) }
        }
        func minusOneDivisor(_ a: inout X86Assembler) {
            if remainder { a.movImm(d, 0) } else { a.neg(d, w) }
        }
        let done = a.newLabel()
        if i.opcode & BPF.sourceX == 0 {
            let k = w == .b64 ? i.imm : Int64(Int32(truncatingIfNeeded: i.imm))
            if k == 0 { zeroDivisor(&a); return }
            if signed && k == -1 { minusOneDivisor(&a); return }
            a.movImm(.r10, w == .b64 ? UInt64(bitPattern: k) : UInt64(UInt32(truncatingIfNeeded: k)))
        } else {
            a.mov(.r10, reg(i.src), w)
            let zero = a.newLabel(), nonzero = a.newLabel()
            a.test(.r10, .r10, w)
            a.jcc(.ne, nonzero)
            a.bind(zero)
            zeroDivisor(&a)
            a.jmp(done)
            a.bind(nonzero)
            if signed {
                let notMinusOne = a.newLabel()
                a.alu(.cmp, .reg(.r10), imm: -1, w)
                a.jcc(.ne, notMinusOne)
                minusOneDivisor(&a)
                a.jmp(done)
                a.bind(notMinusOne)
            }
        }
        a.push(.rax)
        a.push(.rdx)
        a.mov(.rax, d, w)
        if signed { a.signExtendAccumulator(w) } else { a.movImm(.rdx, 0) }
        a.div(.r10, signed: signed, w)
        a.mov(.r10, remainder ? .rdx : .rax, w)
        a.pop(.rdx)
        a.pop(.rax)
        a.mov(d, .r10)
        a.bind(done)
    }

    mutating func jump(_ i: DecodedInstruction, at index: Int) throws {
        a.jcc(try compare(i), try label(Self.target(of: i, at: index)))
    }

    /// Sets the flags for conditional jump `i`; returns the condition under which it is taken.
    mutating func compare(_ i: DecodedInstruction) throws -> X86Cond {
        let w: X86Width = i.opcode & 7 == BPF.classJMP ? .b64 : .b32
        let d = reg(i.dst), s = reg(i.src)
        let byRegister = i.opcode & BPF.sourceX != 0
        let k32 = Int32(truncatingIfNeeded: i.imm)
        let op = i.opcode & 0xf0
        let cond: X86Cond
        switch op {
        case BPF.jeq: cond = .e
        case BPF.jne, BPF.jset: cond = .ne
        case BPF.jgt: cond = .a
        case BPF.jge: cond = .ae
        case BPF.jlt: cond = .b
        case BPF.jle: cond = .be
        case BPF.jsgt: cond = .g
        case BPF.jsge: cond = .ge
        case BPF.jslt: cond = .l
        case BPF.jsle: cond = .le
        default: throw JITError.internalError("unknown jump opcode 0x\(Disassembler.hex(i.opcode))")
        }
        if op == BPF.jset {
            if byRegister { a.test(d, s, w) } else { a.test(d, imm: k32, w) }
        } else if byRegister {
            a.alu(.cmp, .reg(d), s, w)
        } else if k32 == 0 {
            a.test(d, d, w)
        } else {
            a.alu(.cmp, .reg(d), imm: k32, w)
        }
        return cond
    }

    /// Whether instructions `index` and `index + 1` are a conditional jump over one plain ALU
    /// instruction that nothing else jumps to: compiled without a branch (compute into r10, then
    /// `cmov`), so data-dependent conditions cost no mispredictions.
    func isConditionalSkip(at index: Int) -> Bool {
        guard !countsInstructions, index + 1 < code.count, !isJumpTarget[index + 1] else { return false }
        let j = code[index], next = code[index + 1]
        let jumpClass = j.opcode & 7 == BPF.classJMP || j.opcode & 7 == BPF.classJMP32
        guard jumpClass, j.opcode & 0xf0 != BPF.ja, j.opcode & 0xf0 != BPF.call, j.opcode & 0xf0 != BPF.exit,
              j.opcode != InternalOpcode.localCall, j.offset == 1 else { return false }
        guard next.opcode & 7 == BPF.classALU || next.opcode & 7 == BPF.classALU64 else { return false }
        switch next.opcode & 0xf0 {
        case BPF.add, BPF.sub, BPF.or, BPF.and, BPF.xor, BPF.mov: return true
        default: return false
        }
    }

    mutating func conditionalSkip(_ j: DecodedInstruction, _ i: DecodedInstruction) throws {
        let w: X86Width = i.opcode & 7 == BPF.classALU64 ? .b64 : .b32
        let d = reg(i.dst)
        let k32 = Int32(truncatingIfNeeded: i.imm)
        let byRegister = i.opcode & BPF.sourceX != 0
        if i.opcode & 0xf0 == BPF.mov {
            if byRegister {
                a.mov(.r10, reg(i.src), w)
            } else {
                a.movImm(.r10, w == .b64 ? UInt64(bitPattern: i.imm) : UInt64(UInt32(bitPattern: k32)))
            }
        } else {
            let op: X86Assembler.ALUOp
            switch i.opcode & 0xf0 {
            case BPF.add: op = .add
            case BPF.sub: op = .sub
            case BPF.or: op = .or
            case BPF.and: op = .and
            default: op = .xor
            }
            a.mov(.r10, d)
            if byRegister { a.alu(op, .reg(.r10), reg(i.src), w) } else { a.alu(op, .reg(.r10), imm: k32, w) }
        }
        a.cmov(try compare(j).inverse, d, .r10)
    }
}

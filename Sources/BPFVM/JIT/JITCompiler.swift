/// Translates a validated, pre-decoded program (the interpreter's `CompiledProgram`, so `lddw`
/// map loads, jump targets and instruction variants are resolved exactly as it does) into x86-64.
///
/// Registers: r0-r5 live in rax, rdi, rsi, rdx, rcx, r8 (the SysV argument registers, so helpers
/// take r1-r5 where they are), r6-r9 in rbx, r13, r14, r15 (callee-saved), r10 in rbp; r12 holds the
/// `JITContext`, r9 and r11 the inline bounds check's region (`fastLow`, `fastLimit`; reloaded after
/// helper calls), r10 is scratch. The entry code calls the program body, so every `exit` is a
/// `ret` and a local call is an x86 `call`; faults jump to an exit that restores rsp from the context.
struct JITCompiler {
    static let registerMap: [X86Reg] = [.rax, .rdi, .rsi, .rdx, .rcx, .r8, .rbx, .r13, .r14, .r15, .rbp]
    static let ctx = X86Reg.r12
    static let fastLow = X86Reg.r9, fastLimit = X86Reg.r11
    static let frameSize = Int32(BPF.stackFrameSize)
    /// Local calls nest on the machine stack (48 bytes a level), so the JIT takes call-depth
    /// limits up to this; the interpreter takes any.
    static let maxCallDepth = 4096

    let code: UnsafeMutableBufferPointer<DecodedInstruction>
    let maxCallDepth: Int
    let countsInstructions: Bool
    /// Position-independent code (AOT): map loads read their value from the context's relocation
    /// table instead of embedding this process's addresses.
    let relocatable: Bool
    /// Slots of the `lddw`s that read the relocation table, in table order.
    private(set) var relocations: [Int] = []

    private var a: X86Assembler
    private var labels: [X86Label] = []
    private var stubs: [Stub] = []
    private var faultExit: X86Label
    /// Slots some jump or local call lands on.
    private var isJumpTarget: [Bool] = []

    /// Out-of-line code reached from a check in the body.
    private enum Stub {
        /// Stack check, then the full region lookup; back to `resume` when allowed.
        case access(label: X86Label, resume: X86Label, base: X86Reg, offset: Int32, size: Int32, write: Bool, index: Int)
        case misaligned(label: X86Label, index: Int)
        case exit(label: X86Label, reason: UInt64, index: Int, saveRegisters: Bool)
        case unknownHelper(label: X86Label, id: X86Reg?, constant: Int64, index: Int)
    }

    init(code: UnsafeMutableBufferPointer<DecodedInstruction>, maxCallDepth: Int, countsInstructions: Bool,
         relocatable: Bool = false) {
        self.code = code
        self.maxCallDepth = maxCallDepth
        self.countsInstructions = countsInstructions
        self.relocatable = relocatable
        a = X86Assembler(capacity: code.count * 32 + 1024)
        faultExit = a.newLabel()
    }

    /// The machine code: `@convention(c) (JITContext*) -> r0`.
    mutating func compile() throws -> [UInt8] {
        guard maxCallDepth <= Self.maxCallDepth else {
            throw JITError("the JIT supports call-depth limits up to \(Self.maxCallDepth), not \(maxCallDepth)")
        }
        labels = (0 ..< code.count).map { _ in a.newLabel() }
        isJumpTarget = [Bool](repeating: false, count: code.count)
        for (index, i) in code.enumerated() {
            let cls = i.opcode & 7
            let jumps = (cls == BPF.classJMP || cls == BPF.classJMP32) && i.opcode != BPF.callOp
                && i.opcode != BPF.callxOp && i.opcode != BPF.exitOp
            let target = Self.target(of: i, at: index)
            if jumps, target >= 0, target < code.count { isJumpTarget[target] = true }
        }
        let body = a.newLabel(), done = a.newLabel()
        let calleeSaved: [X86Reg] = [.rbp, .rbx, .r12, .r13, .r14, .r15]
        // Entry: rsp is 8 mod 16; six pushes and 8 bytes keep the body at 8 mod 16 after its call.
        for r in calleeSaved { a.push(r) }
        a.alu(.sub, .reg(.rsp), imm: 8)
        a.mov(Self.ctx, .rdi)
        for (n, r) in Self.registerMap.enumerated() { a.load(r, .mem(Self.ctx, JITContext.register(n)), .b64) }
        loadFastRegion()
        a.store(.mem(Self.ctx, JITContext.offset(\.savedStackPointer)), .rsp, .b64)
        a.call(body)
        a.bind(done)
        a.alu(.add, .reg(.rsp), imm: 8)
        for r in calleeSaved.reversed() { a.pop(r) }
        a.ret()
        a.bind(faultExit)
        a.load(.rsp, .mem(Self.ctx, JITContext.offset(\.savedStackPointer)), .b64)
        a.jmp(done)

        a.bind(body)
        var index = 0
        while index < code.count {
            a.bind(labels[index])
            let i = code[index]
            if countsInstructions {
                a.alu(.sub, .mem(Self.ctx, JITContext.offset(\.remaining)), imm: 1)
                a.jcc(.s, exitStub(JITContext.Exit.budget, index))
            }
            if isConditionalSkip(at: index) {
                try conditionalSkip(i, code[index + 1])
                index += 2
                continue
            }
            try translate(i, at: index)
            index += i.opcode == BPF.lddw ? 2 : 1
        }
        for stub in stubs { emit(stub) }
        guard let bytes = a.finish() else { throw JITError("internal error: a jump target was never placed") }
        return bytes
    }

    private func reg(_ n: UInt8) -> X86Reg { Self.registerMap[Int(n) < 11 ? Int(n) : 0] }

    // MARK: Instructions

    private mutating func translate(_ i: DecodedInstruction, at index: Int) throws {
        let d = reg(i.dst), s = reg(i.src)
        switch i.opcode {
        case BPF.lddw where relocatable && i.src != 0:
            guard let slot = Int32(exactly: relocations.count * 8) else { throw JITError("too many map loads for AOT code") }
            a.load(d, .mem(Self.ctx, JITContext.offset(\.relocations)), .b64)
            a.load(d, .mem(d, slot), .b64)
            relocations.append(index)
        case BPF.lddw:
            a.movImm(d, UInt64(bitPattern: i.imm))
        case InternalOpcode.movsx64:
            a.loadSigned(d, .reg(s), i.offset == 8 ? .b8 : i.offset == 16 ? .b16 : .b32)
        case InternalOpcode.movsx32:
            a.movsx32(d, s, i.offset == 8 ? .b8 : .b16)
        case InternalOpcode.localCall:
            localCall(to: try label(Self.target(of: i, at: index)), at: index)
        case BPF.callOp:
            helperCall(id: nil, constant: i.imm, at: index)
        case BPF.callxOp:
            helperCall(id: d, constant: 0, at: index)
        case BPF.exitOp:
            a.ret()
        case BPF.jaOp:
            a.jmp(try label(Self.target(of: i, at: index)))
        case BPF.atomic32, BPF.atomic64:
            atomic(i, at: index)
        default:
            switch i.opcode & 7 {
            case BPF.classALU, BPF.classALU64: try alu(i)
            case BPF.classJMP, BPF.classJMP32: try jump(i, at: index)
            case BPF.classLDX:
                let width = Self.width(i.opcode)
                checkAccess(base: s, offset: i.offset, size: width, write: false, index: index)
                if i.opcode & 0xe0 == BPF.modeMEMSX {
                    a.loadSigned(d, .mem(s, i.offset), Self.x86Width(width))
                } else {
                    a.load(d, .mem(s, i.offset), Self.x86Width(width))
                }
            case BPF.classST:
                let width = Self.width(i.opcode)
                checkAccess(base: d, offset: i.offset, size: width, write: true, index: index)
                a.storeImm(.mem(d, i.offset), Int32(truncatingIfNeeded: i.imm), Self.x86Width(width))
            case BPF.classSTX:
                let width = Self.width(i.opcode)
                checkAccess(base: d, offset: i.offset, size: width, write: true, index: index)
                a.store(.mem(d, i.offset), s, Self.x86Width(width))
            default:
                throw JITError("internal error: cannot translate opcode 0x\(Disassembler.hex(i.opcode)) at \(index)")
            }
        }
    }

    /// Where jump or local call `i` at `index` goes: the decoder keeps offsets relative to the next slot.
    static func target(of i: DecodedInstruction, at index: Int) -> Int { index + 1 + Int(i.offset) }

    private func label(_ target: Int) throws -> X86Label {
        guard target >= 0 && target < labels.count else { throw JITError("internal error: jump target \(target) outside the program") }
        return labels[target]
    }

    /// Bytes accessed by a load or store opcode (its size field).
    static func width(_ opcode: UInt8) -> Int32 {
        switch opcode & 0x18 {
        case BPF.sizeB: 1
        case BPF.sizeH: 2
        case BPF.sizeW: 4
        default: 8
        }
    }

    static func x86Width(_ bytes: Int32) -> X86Width {
        switch bytes { case 1: .b8; case 2: .b16; case 4: .b32; default: .b64 }
    }

    private mutating func alu(_ i: DecodedInstruction) throws {
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
            throw JITError("internal error: unknown ALU opcode 0x\(Disassembler.hex(i.opcode))")
        }
    }

    /// Shifts mask their count like the interpreter's `&<<`: by 63 (64-bit) or 31 (32-bit), as x86 does.
    private mutating func shift(_ op: X86Assembler.ShiftOp, _ i: DecodedInstruction, _ w: X86Width) {
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

    private mutating func byteSwap(_ d: X86Reg, bits: Int64, swap: Bool) {
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
    private mutating func divide(_ i: DecodedInstruction, _ w: X86Width, signed: Bool, remainder: Bool) {
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

    private mutating func jump(_ i: DecodedInstruction, at index: Int) throws {
        a.jcc(try compare(i), try label(Self.target(of: i, at: index)))
    }

    /// Sets the flags for conditional jump `i`; returns the condition under which it is taken.
    private mutating func compare(_ i: DecodedInstruction) throws -> X86Cond {
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
        default: throw JITError("internal error: unknown jump opcode 0x\(Disassembler.hex(i.opcode))")
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
    private func isConditionalSkip(at index: Int) -> Bool {
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

    private mutating func conditionalSkip(_ j: DecodedInstruction, _ i: DecodedInstruction) throws {
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

    // MARK: Memory

    /// Bounds check of `[base + offset, +size)`. Accesses inside the current frame at a constant
    /// offset from r10 need none; others try the fast region inline and the rest out of line.
    private mutating func checkAccess(base: X86Reg, offset: Int32, size: Int32, write: Bool, index: Int) {
        if base == .rbp && offset >= -Self.frameSize && offset + size <= 0 { return }
        let stub = a.newLabel(), resume = a.newLabel()
        if offset == 0 { a.mov(.r10, base) } else { a.lea(.r10, base, offset) }
        a.alu(.sub, .reg(.r10), Self.fastLow)
        a.alu(.cmp, .reg(.r10), Self.fastLimit)
        a.jcc(.a, stub)
        a.bind(resume)
        stubs.append(.access(label: stub, resume: resume, base: base, offset: offset, size: size, write: write, index: index))
    }

    private mutating func atomic(_ i: DecodedInstruction, at index: Int) {
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

    // MARK: Calls

    private mutating func localCall(to target: X86Label, at index: Int) {
        let depth = X86Operand.mem(Self.ctx, JITContext.offset(\.state.callDepth))
        let stackLow = X86Operand.mem(Self.ctx, JITContext.offset(\.state.stackLow))
        a.alu(.cmp, depth, imm: Int32(clamping: maxCallDepth - 1))
        a.jcc(.ge, exitStub(JITContext.Exit.stackOverflow, index))
        a.alu(.add, depth, imm: 1)
        // Five pushes keep rsp at 8 mod 16 in the callee, like the entry frame.
        for r in [X86Reg.rbx, .r13, .r14, .r15, .rbp] { a.push(r) }
        a.alu(.sub, .reg(.rbp), imm: Self.frameSize)
        a.alu(.sub, stackLow, imm: Self.frameSize)
        a.call(target)
        for r in [X86Reg.rbp, .r15, .r14, .r13, .rbx] { a.pop(r) }
        a.alu(.add, stackLow, imm: Self.frameSize)
        a.alu(.sub, depth, imm: 1)
    }

    /// A helper by constant id (`call`) or by the id in register `id` (`callx`), through the
    /// context's table; r1-r5 survive the call as in the interpreter.
    private mutating func helperCall(id: X86Reg?, constant: Int64, at index: Int) {
        let unknown = a.newLabel()
        stubs.append(.unknownHelper(label: unknown, id: id, constant: constant, index: index))
        if let id {
            a.mov(.r10, id)
            a.alu(.cmp, .reg(.r10), imm: Int32(HelperTable.capacity))
            a.jcc(.ae, unknown)
            a.shift(.shl, .r10, by: 3)
            a.alu(.add, .r10, .mem(Self.ctx, JITContext.offset(\.helpers)))
            a.load(.r11, .mem(.r10, 0), .b64)
        } else {
            a.load(.r11, .mem(Self.ctx, JITContext.offset(\.helpers)), .b64)
            a.load(.r11, .mem(.r11, Int32(truncatingIfNeeded: constant) &* 8), .b64)
        }
        a.test(.r11, .r11)
        a.jcc(.e, unknown)
        let arguments: [X86Reg] = [.rdi, .rsi, .rdx, .rcx, .r8]
        for r in arguments { a.push(r) }
        a.mov(.r9, Self.ctx)
        a.call(.reg(.r11))
        for r in arguments.reversed() { a.pop(r) }
        loadFastRegion()
        a.alu(.cmp, .mem(Self.ctx, JITContext.offset(\.state.attention)), imm: 0)
        a.jcc(.ne, exitStub(JITContext.Exit.attention, index, saveRegisters: true))
    }

    private mutating func loadFastRegion() {
        a.load(Self.fastLow, .mem(Self.ctx, JITContext.offset(\.fastLow)), .b64)
        a.load(Self.fastLimit, .mem(Self.ctx, JITContext.offset(\.fastLimit)), .b64)
    }

    // MARK: Stubs

    private mutating func exitStub(_ reason: UInt64, _ index: Int, saveRegisters: Bool = false) -> X86Label {
        let l = a.newLabel()
        stubs.append(.exit(label: l, reason: reason, index: index, saveRegisters: saveRegisters))
        return l
    }

    private mutating func setExit(_ reason: UInt64, _ index: Int) {
        a.storeImm(.mem(Self.ctx, JITContext.offset(\.exitIndex)), Int32(truncatingIfNeeded: index), .b64)
        a.storeImm(.mem(Self.ctx, JITContext.offset(\.exitReason)), Int32(reason), .b64)
        a.jmp(faultExit)
    }

    private mutating func emit(_ stub: Stub) {
        switch stub {
        case let .access(label, resume, base, offset, size, write, index):
            a.bind(label)
            // Active stack frames: offset from stackLow at most (stackHigh - stackLow - size).
            a.push(.r11)
            a.lea(.r10, base, offset)
            a.alu(.sub, .r10, .mem(Self.ctx, JITContext.offset(\.state.stackLow)))
            a.load(.r11, .mem(Self.ctx, JITContext.offset(\.state.stackHigh)), .b64)
            a.alu(.sub, .r11, .mem(Self.ctx, JITContext.offset(\.state.stackLow)))
            a.alu(.sub, .reg(.r11), imm: size)
            a.alu(.cmp, .reg(.r10), .r11)
            a.pop(.r11)
            a.jcc(.be, resume)
            // Everything else: the same lookup the interpreter does, caller-saved registers kept
            // (eight pushes and 8 bytes align rsp for the call).
            let saved: [X86Reg] = [.rax, .rdi, .rsi, .rdx, .rcx, .r8, .r9, .r11]
            for r in saved { a.push(r) }
            a.alu(.sub, .reg(.rsp), imm: 8)
            a.lea(.rsi, base, offset)
            a.mov(.rdi, Self.ctx)
            a.movImm(.rdx, UInt64(size))
            a.movImm(.rcx, write ? 1 : 0)
            a.call(.mem(Self.ctx, JITContext.offset(\.accessCheck)))
            a.mov(.r10, .rax)
            a.alu(.add, .reg(.rsp), imm: 8)
            for r in saved.reversed() { a.pop(r) }
            a.test(.r10, .r10)
            a.jcc(.ne, resume)
            a.lea(.r10, base, offset)
            a.store(.mem(Self.ctx, JITContext.offset(\.faultAddress)), .r10, .b64)
            a.storeImm(.mem(Self.ctx, JITContext.offset(\.faultSize)), size, .b64)
            a.storeImm(.mem(Self.ctx, JITContext.offset(\.faultWrite)), write ? 1 : 0, .b64)
            setExit(JITContext.Exit.memory, index)
        case let .misaligned(label, index):
            a.bind(label)
            a.store(.mem(Self.ctx, JITContext.offset(\.faultAddress)), .r10, .b64)
            setExit(JITContext.Exit.misalignedAtomic, index)
        case let .exit(label, reason, index, saveRegisters):
            a.bind(label)
            if saveRegisters {
                for (n, r) in Self.registerMap.enumerated() { a.store(.mem(Self.ctx, JITContext.register(n)), r, .b64) }
            }
            setExit(reason, index)
        case let .unknownHelper(label, id, constant, index):
            a.bind(label)
            if let id {
                a.store(.mem(Self.ctx, JITContext.offset(\.faultAddress)), id, .b64)
            } else {
                a.movImm(.r10, UInt64(bitPattern: constant))
                a.store(.mem(Self.ctx, JITContext.offset(\.faultAddress)), .r10, .b64)
            }
            setExit(JITContext.Exit.unknownHelper, index)
        }
    }
}

/// A program the JIT cannot compile or run here (not a fault of the program's own run).
public struct JITError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

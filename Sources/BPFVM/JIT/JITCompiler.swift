/// Translates a validated, pre-decoded program (the interpreter's `CompiledProgram`, so `lddw`
/// map loads, jump targets and instruction variants are resolved exactly as it does) into x86-64.
///
/// Registers: r0-r5 live in rax, rdi, rsi, rdx, rcx, r8 (the SysV argument registers, so helpers
/// take r1-r5 where they are), r6-r9 in rbx, r13, r14, r15 (callee-saved), r10 in rbp; r12 holds the
/// `JITContext`, r9 and r11 the inline bounds check's region (`fastLow`, `fastLimit`; reloaded after
/// helper calls, set to the value after an inline array lookup), r10 is scratch. The entry frame (JITCompiler+Entry) calls the program
/// body, so every `exit` is a `ret` and a local call is an x86 `call`; faults jump to an exit that restores rsp from the context.
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
    /// A tail-call target: it starts on the registers the calling program left in the context,
    /// where an entry program starts as the interpreter does (see JITCompiler+Entry).
    let resumesRegisters: Bool
    /// Maps whose lookups the code does itself, by map slot (none for relocatable code).
    let inlineMaps: [Int: InlineMap]
    /// Slots of the `lddw`s that read the relocation table, in table order.
    private(set) var relocations: [Int] = []
    /// eBPF registers the code keeps in host registers, by number (see JITCompiler+Entry).
    var isLive = [Bool](repeating: true, count: 11)
    /// Holds the instruction budget left during a run, when counted and a register is free.
    var budgetRegister: X86Reg?

    var a: X86Assembler
    var labels: [X86Label] = []
    var stubs: [Stub] = []
    var faultExit: X86Label
    /// Shared out-of-line bounds checks, by access size and direction (`accessRoutine`), and
    /// the exit of an access they deny.
    var accessRoutines = [X86Label?](repeating: nil, count: 8)
    var memoryFault: X86Label
    /// Slots some jump or local call lands on.
    var isJumpTarget: [Bool] = []
    /// Slots a jump from a later slot lands on (loop tops), placed at 16-byte boundaries.
    var isLoopTop: [Bool] = []
    /// Loops whose pointer is checked once at entry, by header slot; their checked copies.
    var loops: [Int: VersionedLoop] = [:]
    var checkedCopies: [(VersionedLoop, X86Label)] = []
    /// While emitting a versioned loop's unchecked copy: the register its entry check covers.
    var provenBase: X86Reg?
    /// Budget by block (see JITCompiler+Budget): lengths by first slot, instructions charged
    /// ahead of each slot, the exact copy's slots, and which copy is being emitted.
    var blockLength: [Int32] = []
    var chargedAhead: [Int32] = []
    var exactLabels: [X86Label] = []
    var chargesBlocks = false
    var refundsChargedAhead = false

    /// Out-of-line code reached from a check in the body.
    enum Stub {
        /// Stack check, then the full region lookup; back to `resume` when allowed.
        case access(label: X86Label, resume: X86Label, base: X86Reg, offset: Int32, size: Int32, write: Bool, index: Int)
        case misaligned(label: X86Label, index: Int)
        case exit(label: X86Label, reason: UInt64, index: Int, saveRegisters: Bool)
        case unknownHelper(label: X86Label, id: X86Reg?, constant: Int64, index: Int)
        /// A block longer than the budget left: back to the exact copy at `exact`.
        case budgetShort(label: X86Label, length: Int32, exact: X86Label)
    }

    init(code: UnsafeMutableBufferPointer<DecodedInstruction>, maxCallDepth: Int, countsInstructions: Bool,
         relocatable: Bool = false, resumesRegisters: Bool = false, inlineMaps: [Int: InlineMap] = [:]) {
        self.code = code
        self.maxCallDepth = maxCallDepth
        self.countsInstructions = countsInstructions
        self.relocatable = relocatable
        self.resumesRegisters = resumesRegisters
        self.inlineMaps = relocatable ? [:] : inlineMaps
        a = X86Assembler(capacity: code.count * 32 + 1024, labels: code.count * 2 + 64)
        faultExit = a.newLabel()
        memoryFault = a.newLabel()
    }

    /// The machine code: `@convention(c) (JITContext*) -> r0`.
    mutating func compile() throws -> [UInt8] {
        guard maxCallDepth <= Self.maxCallDepth else {
            throw JITError.callDepthLimit(requested: maxCallDepth, supported: Self.maxCallDepth)
        }
        labels = (0 ..< code.count).map { _ in a.newLabel() }
        analyseControlFlow()
        findLiveRegisters()
        let body = a.newLabel()
        emitEntryFrame(calling: body)
        a.bind(body)
        if countsInstructions {
            analyseBlocks()
            exactLabels = labels.indices.map { _ in a.newLabel() }
            chargesBlocks = true
        }
        try emitBody()
        let mainStubs = stubs.count
        if countsInstructions {
            labels = exactLabels
            loops = [:]
            chargesBlocks = false
            try emitBody()
        }
        for (n, stub) in stubs.enumerated() {
            refundsChargedAhead = countsInstructions && n < mainStubs
            emit(stub)
        }
        emitAccessRoutines()
        guard let bytes = a.finish() else { throw JITError.internalError("a jump target was never placed") }
        return bytes
    }

    /// Every slot in order, versioned loops with their checked copies after the body.
    private mutating func emitBody() throws {
        var index = 0
        while index < code.count {
            if isLoopTop[index] && loops[index] == nil { a.align(16) }
            a.bind(labels[index])
            if !loops.isEmpty, let loop = loops[index] {
                try emitVersioned(loop)
                index = loop.backEdge + 1
            } else {
                index = try emitSlot(index)
            }
        }
        for (loop, entry) in checkedCopies { try emitCheckedCopy(loop, at: entry) }
        checkedCopies = []
    }

    /// Jump targets, then the loops to version (which depend on them).
    mutating func analyseControlFlow() {
        isJumpTarget = [Bool](repeating: false, count: code.count)
        isLoopTop = isJumpTarget
        for (index, i) in code.enumerated() {
            if let target = Self.jumpTarget(of: i, at: index, in: code.count) {
                isJumpTarget[target] = true
                if target <= index { isLoopTop[target] = true }
            }
        }
        loops = VersionedLoop.find(in: code, isConditionalSkip: isConditionalSkip(at:))
    }

    /// Emits slot `index` (with the one after it, for a conditional skip); returns the next slot.
    mutating func emitSlot(_ index: Int) throws -> Int {
        let i = code[index]
        if countsInstructions { chargeBudget(at: index) }
        if isConditionalSkip(at: index) {
            try conditionalSkip(i, code[index + 1])
            return index + 2
        }
        try translate(i, at: index)
        return index + (i.opcode == BPF.lddw ? 2 : 1)
    }

    func reg(_ n: UInt8) -> X86Reg { Self.registerMap[Int(n) < 11 ? Int(n) : 0] }

    // MARK: Instructions

    mutating func translate(_ i: DecodedInstruction, at index: Int) throws {
        let d = reg(i.dst), s = reg(i.src)
        switch i.opcode {
        case BPF.lddw where relocatable && i.src != 0:
            guard let slot = Int32(exactly: relocations.count * 8) else { throw JITError.tooManyMapLoads }
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
            switch inlineMap(calledAt: index) {
            case .array(let map): arrayLookup(map, at: index)
            case .hash(let map): hashLookup(map, at: index)
            case nil: helperCall(id: nil, constant: i.imm, at: index)
            }
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
                throw JITError.internalError("cannot translate opcode 0x\(Disassembler.hex(i.opcode)) at \(index)")
            }
        }
    }

    /// The slot jump or local call `i` at `index` may land on (in range), nil for other instructions.
    static func jumpTarget(of i: DecodedInstruction, at index: Int, in count: Int) -> Int? {
        let cls = i.opcode & 7
        guard cls == BPF.classJMP || cls == BPF.classJMP32, i.opcode != BPF.callOp, i.opcode != BPF.callxOp,
              i.opcode != BPF.exitOp else { return nil }
        let target = target(of: i, at: index)
        return target >= 0 && target < count ? target : nil
    }

    /// Where jump or local call `i` at `index` goes: the decoder keeps offsets relative to the next slot.
    static func target(of i: DecodedInstruction, at index: Int) -> Int { index + 1 + Int(i.offset) }

    func label(_ target: Int) throws -> X86Label {
        guard target >= 0 && target < labels.count else { throw JITError.internalError("jump target \(target) outside the program") }
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
}

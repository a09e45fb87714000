/// A program compiled to x86-64 machine code. It is validated, decoded and given its stack, maps
/// and helpers exactly as by a `VirtualMachine` (which it uses for all of that), so a run returns
/// the interpreter's r0 or throws the interpreter's `VMError`. Not thread-safe: one run at a time.
public final class JITProgram {
    /// Time spent translating and mapping the code (validation excluded).
    public let compileTime: Duration
    /// Bytes of machine code for the entry program.
    public var codeSize: Int { entry.codeSize }
    /// The entry program's machine code (for inspection with a disassembler).
    public var machineCode: [UInt8] { Array(UnsafeRawBufferPointer(start: entry.base, count: entry.codeSize)) }
    /// Instructions executed by the last run; counted only when `options.maxInstructions` is set.
    public var executedInstructions: UInt64 { machine.executedInstructions }
    /// The last run's `bpf_override_return` / `bpf_set_retval` value, as `VirtualMachine.returnOverride`.
    public var returnOverride: UInt64? { machine.returnOverride }
    /// The run state shared with its machine, for hosts that read a run's outcome without a call.
    public var state: UnsafeMutablePointer<RunState> { machine.state }

    /// Whether this machine can run JIT code (x86-64 only; elsewhere use the interpreter).
    public static var isSupported: Bool {
        #if arch(x86_64)
        true
        #else
        false
        #endif
    }

    @usableFromInline let machine: VirtualMachine
    private let entry: ExecutableMemory
    /// Compiled tail-call targets, by program (one run at a time: no dynamic exclusivity check).
    @exclusivity(unchecked) private var tailCallTargets: [Program: ExecutableMemory] = [:]
    /// The machine's: its run state, and the JIT's fields after it.
    @usableFromInline let context: UnsafeMutablePointer<JITContext>
    @usableFromInline let entryPoint: EntryPoint
    /// The instruction budget (`Int64.max`, never reached, when the options set none).
    @usableFromInline let budget: Int64
    /// Values of the relocated `lddw`s of AOT code (empty for JIT code).
    @usableFromInline let relocationTable: UnsafeMutableBufferPointer<UInt64>

    @usableFromInline typealias EntryPoint = @convention(c) (UnsafeMutableRawPointer) -> UInt64

    /// Validates `program` (throwing the validator's `VMError`) and compiles it.
    public convenience init(program: Program, maps: MapBackend? = nil, options: VMOptions = VMOptions()) throws {
        #if arch(x86_64)
        try self.init(machine: VirtualMachine(program: program, maps: maps, options: options))
        #else
        throw JITError.unsupportedArchitecture(what: "JIT")
        #endif
    }

    /// Compiles the program of an existing interpreter. Runs of either share its stack, maps and
    /// run state, so only one of them may run at a time.
    public convenience init(machine: VirtualMachine) throws {
        #if arch(x86_64)
        let clock = ContinuousClock()
        let start = clock.now
        let entry = try Self.compile(machine.entry, machine, resumesRegisters: false)
        self.init(machine: machine, entry: entry, compileTime: clock.now - start, relocations: [])
        #else
        throw JITError.unsupportedArchitecture(what: "JIT")
        #endif
    }

    /// Runs ahead-of-time code made by `AOTImage(machine:)` for the same bytecode, helper table and
    /// call-depth limit (anything else throws the stale-code error and nothing runs). The image's
    /// map loads are resolved against `machine`'s maps, as the interpreter resolves them.
    public convenience init(machine: VirtualMachine, image: AOTImage) throws {
        #if arch(x86_64)
        try image.check(for: machine)
        let clock = ContinuousClock()
        let start = clock.now
        let values = image.relocations.map { UInt64(bitPattern: machine.entry.code[Int($0)].imm) }
        let entry = try ExecutableMemory(code: image.code)
        self.init(machine: machine, entry: entry, compileTime: clock.now - start, relocations: values)
        #else
        throw JITError.unsupportedArchitecture(what: "JIT")
        #endif
    }

    private init(machine: VirtualMachine, entry: ExecutableMemory, compileTime: Duration, relocations: [UInt64]) {
        self.machine = machine
        self.entry = entry
        self.compileTime = compileTime
        entryPoint = unsafeBitCast(entry.base, to: EntryPoint.self)
        budget = machine.options.maxInstructions.map { Int64(clamping: $0) } ?? Int64.max
        relocationTable = .allocate(capacity: relocations.count + 1)
        _ = relocationTable.initialize(from: relocations + [0])
        context = machine.context
    }

    deinit { relocationTable.deallocate() }

    /// Compiles `program` (the machine's entry, or a tail-call target, which resumes from the
    /// registers in the context) to run on `machine`'s maps.
    static func compile(_ program: CompiledProgram, _ machine: VirtualMachine, resumesRegisters: Bool) throws -> ExecutableMemory {
        let options = machine.options
        var compiler = JITCompiler(code: program.code, maxCallDepth: options.maxCallDepth,
                                   countsInstructions: options.maxInstructions != nil, resumesRegisters: resumesRegisters,
                                   inlineMaps: InlineMap.inSlots(of: machine.environment, helpers: options.helpers))
        return try ExecutableMemory(code: compiler.compile())
    }

    /// Runs the program with r1 = `input`'s address and r2 = its length (0 and 0 when empty), as
    /// `VirtualMachine.run` does (`readable` too). Returns r0. Inlinable, so that a host (the
    /// agent) runs the code without a frame of this function around it.
    @inlinable @inline(__always)
    public func run(input: UnsafeMutableRawBufferPointer, cookie: UInt64 = 0, readable: UnsafeRawBufferPointer? = nil) throws -> UInt64 {
        let c = context
        c.pointee.state.begin(input: input, cookie: cookie, readable: readable)
        // The code sets its registers from the state (see JITCompiler+Entry).
        let low = c.pointee.state.inputLow, span = UInt64(input.count), stackLow = c.pointee.state.stackLow
        c.pointee.relocations = UnsafeRawPointer(relocationTable.baseAddress)
        // The inline check's region: the input, or the entry frame (always accessible) when the
        // input cannot hold an 8-byte access.
        if span >= 8 {
            c.pointee.fastLow = low
            c.pointee.fastLimit = span - 8
        } else {
            c.pointee.fastLow = stackLow
            c.pointee.fastLimit = UInt64(BPF.stackFrameSize - 8)
        }
        c.pointee.remaining = budget
        c.pointee.exitReason = JITContext.Exit.normal
        let result = entryPoint(UnsafeMutableRawPointer(c))
        machine.executed = UInt64(bitPattern: budget &- c.pointee.remaining)
        if c.pointee.exitReason == JITContext.Exit.normal && machine.environment.reservedRecords.isEmpty { return result }
        defer { discardReservedRecords() }
        return try finishRun(result)
    }

    /// After an exit that was not a plain return: tail calls (which continue in another program's
    /// code) and faults, which become the interpreter's error for the instruction at fault.
    @usableFromInline
    func finishRun(_ first: UInt64) throws -> UInt64 {
        let s = machine.state, c = context
        var result = first
        var program = machine.program
        while true {
            let index = Int(c.pointee.exitIndex)
            let failure: VirtualMachine.Failure
            switch c.pointee.exitReason {
            case JITContext.Exit.normal:
                return result
            case JITContext.Exit.memory:
                failure = .memory(address: c.pointee.faultAddress, size: c.pointee.faultSize, write: c.pointee.faultWrite != 0)
            case JITContext.Exit.misalignedAtomic:
                failure = .misalignedAtomic(address: c.pointee.faultAddress)
            case JITContext.Exit.stackOverflow:
                failure = .stackOverflow
            case JITContext.Exit.unknownHelper:
                failure = .unknownHelper(c.pointee.faultAddress)
            case JITContext.Exit.budget:
                c.pointee.remaining += 1
                machine.executed -= 1
                failure = .budget
            default:
                // A helper asked for attention: a fault, or a tail call into another program.
                let attention = s.pointee.attention
                s.pointee.attention = 0
                let environment = machine.environment
                if attention == RunState.Attention.fault {
                    failure = .helperFault(environment.pendingFault ?? "helper failed")
                    environment.pendingFault = nil
                } else if let target = environment.pendingTailCall {
                    environment.pendingTailCall = nil
                    do {
                        let code = try tailCallCode(for: target, machine.compiledTarget(target))
                        program = target
                        c.pointee.exitReason = JITContext.Exit.normal
                        result = unsafeBitCast(code.base, to: EntryPoint.self)(UnsafeMutableRawPointer(c))
                        machine.executed = UInt64(budget &- c.pointee.remaining)
                        continue
                    } catch let error as VMError {
                        failure = .rejectedTailCall(error)
                    }
                } else {
                    failure = .helperFault("internal error: attention without a pending fault or tail call")
                }
            }
            throw machine.error(failure, at: index, in: program)
        }
    }

    private func tailCallCode(for program: Program, _ compiled: CompiledProgram) throws -> ExecutableMemory {
        if let code = tailCallTargets[program] { return code }
        let code = try Self.compile(compiled, machine, resumesRegisters: true)
        if tailCallTargets.count >= 64 { tailCallTargets.removeAll() }
        tailCallTargets[program] = code
        return code
    }

    /// Ring-buffer records a program reserved and never submitted are dropped when its run ends.
    @usableFromInline
    func discardReservedRecords() {
        let environment = machine.environment
        guard !environment.reservedRecords.isEmpty else { return }
        for record in environment.reservedRecords { environment.maps.ringbufDiscard(record) }
        environment.reservedRecords.removeAll()
    }
}

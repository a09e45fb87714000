/// How a `VirtualMachine` validates and runs programs.
public struct VMOptions {
    /// Instruction budget per run (an lddw counts once); `nil` = unlimited.
    public var maxInstructions: UInt64?
    /// Frames (entry frame included) local calls may nest to.
    public var maxCallDepth: Int
    /// Largest program accepted, in slots.
    public var maxProgramSize: Int
    public var helpers: HelperTable
    /// Receives `bpf_trace_printk` text; stdout when nil.
    public var trace: ((String) -> Void)?

    public init(maxInstructions: UInt64? = nil, maxCallDepth: Int = 8,
                maxProgramSize: Int = Validator.defaultMaxInstructions,
                helpers: HelperTable = .standard(), trace: ((String) -> Void)? = nil) {
        self.maxInstructions = maxInstructions
        self.maxCallDepth = max(1, maxCallDepth)
        self.maxProgramSize = maxProgramSize
        self.helpers = helpers
        self.trace = trace
    }
}

/// An eBPF interpreter for one validated program, reusable across runs without allocating.
/// Not thread-safe: one run at a time.
public final class VirtualMachine {
    public let program: Program
    public let options: VMOptions
    // Fields written by runs are exempt from dynamic exclusivity checks (`@exclusivity(unchecked)`):
    // the machine runs one program at a time, and a check on every run cost more than a short run.
    /// Instructions executed by the last run (tail-called programs included).
    public var executedInstructions: UInt64 { executed }
    @exclusivity(unchecked) @usableFromInline var executed: UInt64 = 0
    /// The return value the last run asked the hooked function to return
    /// (`bpf_override_return`, `bpf_set_retval`), `nil` when it asked for none.
    public var returnOverride: UInt64? { state.pointee.returnOverridden != 0 ? state.pointee.returnOverride : nil }

    @usableFromInline let environment: HelperEnvironment
    let validator: Validator
    // Copied out of `options` so the interpreter reads plain values, not the struct.
    let helperEntries: UnsafeMutablePointer<HelperFunction?>
    let budget: Int64
    let maxDepth: Int
    let entry: CompiledProgram
    /// Validated tail-call targets, by program.
    @exclusivity(unchecked) var tailCallTargets: [Program: CompiledProgram] = [:]

    /// The run state helpers see; `RunState.regions` and the stack live beside it. It is the
    /// start of `context`, so JIT code runs on it in place (nothing to copy in or out per run).
    public let state: UnsafeMutablePointer<RunState>
    let context: UnsafeMutablePointer<JITContext>
    let stack: UnsafeMutableRawBufferPointer
    let registers: UnsafeMutablePointer<UInt64>
    let frames: UnsafeMutablePointer<SavedFrame>

    struct SavedFrame {
        var returnPC: Int
        var r6: UInt64, r7: UInt64, r8: UInt64, r9: UInt64
    }

    static let regionCapacity = 256

    /// Validates `program` (throwing the validator's error) and prepares it to run.
    public init(program: Program, maps: MapBackend? = nil, options: VMOptions = VMOptions()) throws {
        self.program = program
        self.options = options
        helperEntries = options.helpers.entries
        budget = options.maxInstructions.map { Int64(clamping: $0) } ?? Int64.max
        maxDepth = options.maxCallDepth - 1
        environment = HelperEnvironment(maps: maps, trace: options.trace)
        validator = Validator(helpers: options.helpers, maps: maps, maxInstructions: options.maxProgramSize)
        try validator.validate(program)

        stack = .allocate(byteCount: options.maxCallDepth * BPF.stackFrameSize, alignment: 16)
        stack.initializeMemory(as: UInt8.self, repeating: 0)
        registers = .allocate(capacity: 16)
        registers.initialize(repeating: 0, count: 16)
        frames = .allocate(capacity: options.maxCallDepth)
        let regions = UnsafeMutablePointer<MemoryRegion>.allocate(capacity: Self.regionCapacity)
        let top = UInt64(UInt(bitPattern: stack.baseAddress.unsafelyUnwrapped)) + UInt64(stack.count)
        context = .allocate(capacity: 1)
        context.initialize(to: JITContext(
            state: RunState(
                stackLow: top - UInt64(BPF.stackFrameSize), stackHigh: top, inputLow: 0, inputHigh: 0,
                regions: regions, regionCount: 0, regionCapacity: Self.regionCapacity, permanentRegionCount: 0,
                attention: 0, callDepth: 0, cookie: 0, tailCallCount: 0,
                environment: Unmanaged.passUnretained(environment).toOpaque()),
            helpers: UnsafeMutableRawPointer(options.helpers.entries)))
        state = (UnsafeMutableRawPointer(context) + Int(JITContext.offset(\.state))).assumingMemoryBound(to: RunState.self)
        do {
            entry = try CompiledProgram(program, environment: environment, state: state)
        } catch {
            Self.release(context: context, stack: stack, registers: registers, frames: frames)
            throw error
        }
    }

    deinit { Self.release(context: context, stack: stack, registers: registers, frames: frames) }

    private static func release(context: UnsafeMutablePointer<JITContext>, stack: UnsafeMutableRawBufferPointer,
                                registers: UnsafeMutablePointer<UInt64>, frames: UnsafeMutablePointer<SavedFrame>) {
        context.pointee.state.regions.deallocate()
        context.deinitialize(count: 1)
        context.deallocate()
        stack.deallocate()
        registers.deallocate()
        frames.deallocate()
    }

    /// Runs the program with r1 = `input`'s address and r2 = its length (0 and 0 when empty);
    /// the program may read and write `input` (give it a private copy), and read `readable`
    /// (e.g. the probed thread's stack) for this run. Returns r0.
    public func run(input: UnsafeMutableRawBufferPointer, cookie: UInt64 = 0, readable: UnsafeRawBufferPointer? = nil) throws -> UInt64 {
        state.pointee.begin(input: input, cookie: cookie, readable: readable)
        // Every run starts from the same registers (as JIT code does): nothing leaks between runs.
        registers.update(repeating: 0, count: 10)
        registers[1] = state.pointee.inputLow
        registers[2] = UInt64(input.count)
        registers[10] = state.pointee.stackHigh
        defer { if !environment.reservedRecords.isEmpty { discardReservedRecords() } }
        return try execute(entry)
    }

    /// Ring-buffer records a program reserved and never submitted are dropped when its run ends.
    private func discardReservedRecords() {
        for record in environment.reservedRecords { environment.maps.ringbufDiscard(record) }
        environment.reservedRecords.removeAll()
    }

    /// The decoded form of a tail-call target, validated on first use.
    func compiledTarget(_ program: Program) throws -> CompiledProgram {
        if let compiled = tailCallTargets[program] { return compiled }
        do {
            try validator.validate(program)
            let compiled = try CompiledProgram(program, environment: environment, state: state)
            if tailCallTargets.count >= 64 { tailCallTargets.removeAll() }
            tailCallTargets[program] = compiled
            return compiled
        } catch let error as VMError {
            throw VMError(.rejected, "tail-called program rejected: \(error)")
        }
    }
}

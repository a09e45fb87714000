import BPFRuntime
import BPFVM
import Glibc

/// How an agent runs programs.
public struct AgentOptions {
    public enum Engine: String, Sendable, CaseIterable {
        /// The checked interpreter.
        case interpreter
        /// x86-64 machine code with the interpreter's checks compiled in.
        case jit

        /// The JIT where there is one (x86-64), else the interpreter.
        public static var `default`: Engine {
            #if arch(x86_64)
            .jit
            #else
            .interpreter
            #endif
        }
    }

    /// Instructions a program may execute per fire unless told otherwise: far more than any
    /// real probe needs, few enough that a looping program (`ja -1`) costs the traced
    /// application milliseconds, not its life.
    public static let defaultInstructionBudget: UInt64 = 1 << 24

    public var engine: Engine
    /// VM settings for every program (instruction budget, helpers, trace output).
    public var vm: VMOptions
    /// A removed segment is noticed at a table change, or else within `livenessInterval` fires
    /// once `livenessPeriodMilliseconds` have passed since the last look (one `fstat`).
    public var livenessInterval: Int
    public var livenessPeriodMilliseconds: Int

    public init(engine: Engine = .default, vm: VMOptions = VMOptions(maxInstructions: Self.defaultInstructionBudget), livenessInterval: Int = 64,
                livenessPeriodMilliseconds: Int = 10) {
        self.engine = engine
        self.vm = vm
        self.livenessInterval = max(1, livenessInterval)
        self.livenessPeriodMilliseconds = max(0, livenessPeriodMilliseconds)
    }

    /// The defaults, with the engine named by BPFTIME_AGENT_ENGINE and the instruction
    /// budget given by BPFTIME_AGENT_MAX_INSNS (a positive number) when they are set.
    public static func fromEnvironment() throws(AgentError) -> AgentOptions {
        func env(_ key: String) -> String? { getenv(key).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } }
        var options = AgentOptions()
        if let value = env("BPFTIME_AGENT_ENGINE") {
            guard let engine = Engine(rawValue: value) else { throw .unknownEngine(value) }
            options.engine = engine
        }
        if let value = env("BPFTIME_AGENT_MAX_INSNS") {
            guard let budget = UInt64(value), budget > 0 else { throw .invalidBudget(value) }
            options.vm.maxInstructions = budget
        }
        return options
    }

    var livenessPeriodNanoseconds: UInt64 { UInt64(livenessPeriodMilliseconds) * 1_000_000 }

    func makeEngine(_ program: Program, maps: MapBackend) throws -> LoadedEngine {
        switch engine {
        case .interpreter: LoadedEngine(try VirtualMachine(program: program, maps: maps, options: vm))
        case .jit: LoadedEngine(try JITProgram(program: program, maps: maps, options: vm))
        }
    }
}

/// An engine, and how to run it with no reference counting on the hot path: `object` borrows
/// the engine (kept alive by `engine`) and `kind` names its class, so a run is a switch and a
/// direct call (a closure's context would be retained and released around every run).
struct LoadedEngine {
    let engine: ProgramEngine
    let object: UnsafeMutableRawPointer
    let kind: AgentOptions.Engine
    /// The engine's run state, where a run's `bpf_override_return` value is read without a call.
    let state: UnsafeMutablePointer<RunState>

    init(_ machine: VirtualMachine) { self.init(machine, .interpreter, machine.state) }
    init(_ program: JITProgram) { self.init(program, .jit, program.state) }

    /// Private: `kind` must name `engine`'s class, which `run` casts `object` to.
    private init<E: ProgramEngine>(_ engine: E, _ kind: AgentOptions.Engine, _ state: UnsafeMutablePointer<RunState>) {
        self.engine = engine
        object = Unmanaged.passUnretained(engine).toOpaque()
        self.kind = kind
        self.state = state
    }

    /// Runs the engine of `kind` at `object`, which the caller keeps alive.
    @inline(__always)
    static func run(_ kind: AgentOptions.Engine, _ object: UnsafeMutableRawPointer,
                    input: UnsafeMutableRawBufferPointer, cookie: UInt64, readable: UnsafeRawBufferPointer?) throws -> UInt64 {
        switch kind {
        case .interpreter:
            try Unmanaged<VirtualMachine>.fromOpaque(object)._withUnsafeGuaranteedRef { try $0.run(input: input, cookie: cookie, readable: readable) }
        case .jit:
            try Unmanaged<JITProgram>.fromOpaque(object)._withUnsafeGuaranteedRef { try $0.run(input: input, cookie: cookie, readable: readable) }
        }
    }
}

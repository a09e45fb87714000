import BPFRuntime
import BPFVM

/// How an agent runs programs.
public struct AgentOptions {
    public enum Engine: String, Sendable, CaseIterable {
        /// The checked interpreter.
        case interpreter
    }

    public var engine: Engine
    /// VM settings for every program (instruction budget, helpers, trace output).
    public var vm: VMOptions
    /// A removed segment is noticed at a table change, or else within `livenessInterval` fires
    /// once `livenessPeriodMilliseconds` have passed since the last look (one `fstat`).
    public var livenessInterval: Int
    public var livenessPeriodMilliseconds: Int

    public init(engine: Engine = .interpreter, vm: VMOptions = VMOptions(), livenessInterval: Int = 64,
                livenessPeriodMilliseconds: Int = 10) {
        self.engine = engine
        self.vm = vm
        self.livenessInterval = max(1, livenessInterval)
        self.livenessPeriodMilliseconds = max(0, livenessPeriodMilliseconds)
    }

    var livenessPeriodNanoseconds: UInt64 { UInt64(livenessPeriodMilliseconds) * 1_000_000 }

    func makeEngine(_ program: Program, maps: MapBackend) throws -> ProgramEngine {
        switch engine {
        case .interpreter: try VirtualMachine(program: program, maps: maps, options: vm)
        }
    }
}

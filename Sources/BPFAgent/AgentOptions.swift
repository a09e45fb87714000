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
    /// Every this many fires the agent checks that its segment still exists; a table change
    /// checks at once.
    public var livenessInterval: Int

    public init(engine: Engine = .interpreter, vm: VMOptions = VMOptions(), livenessInterval: Int = 1024) {
        self.engine = engine
        self.vm = vm
        self.livenessInterval = max(1, livenessInterval)
    }

    func makeEngine(_ program: Program, maps: MapBackend) throws -> ProgramEngine {
        switch engine {
        case .interpreter: try VirtualMachine(program: program, maps: maps, options: vm)
        }
    }
}

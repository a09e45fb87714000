import BPFAgent
import BPFModel
import Foundation
import Glibc
import Testing

/// A program that never ends is stopped by the agent's instruction budget.
@Suite(.serialized) struct BudgetTests {
    static let spin = Asm.op(0x05, off: -1) // ja -1
    /// r0 = 100; loop: r0 -= 1; if r0 != 0 goto loop; exit: about 200 instructions.
    static let countdown = (Asm.mov(0, 100) + Asm.add(0, -1) + Asm.op(0x55, dst: 0, off: -2, imm: 0) + Asm.exit)

    @Test func aLoopingProgramAtTheTargetsHookCannotWedgeIt() throws {
        let hook = try run(Built.target, ["--print-hook"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ":")
        let offset = try #require(UInt64(hook.last?.dropFirst(2) ?? "", radix: 16))
        let t = try TestSegment([
            Fixture.uprobe(3, module: "bpftime-target", offset: offset),
            Fixture.program(4, "spin", Self.spin, attach: [.init(targetFD: 3)]),
        ])
        let outcome = try run(Built.target, ["--shm", t.name, "--iterations", "3"], seconds: 60)
        #expect(outcome.ok, "timed out: \(outcome.timedOut), \(outcome.stderr)")
        #expect(outcome.stderr.contains("faulted"), "\(outcome.stderr)")
    }

    @Test(arguments: AgentOptions.Engine.allCases)
    func theBudgetStopsLoopsAndSparesFiniteRuns(_ engine: AgentOptions.Engine) throws {
        let t = try TestSegment([
            Fixture.tracepoint(2, id: 1), Fixture.tracepoint(3, id: 2),
            Fixture.program(4, "spin", Self.spin, attach: [.init(targetFD: 2)]),
            Fixture.program(5, "countdown", Self.countdown, attach: [.init(targetFD: 3)]),
        ])
        var options = AgentOptions(engine: engine)
        options.vm.maxInstructions = 1000
        let agent = try Agent.open(segmentName: t.name, options: options)
        #expect(agent.fire(.tracepoint(id: 1)) == 0)
        #expect(agent.fire(.tracepoint(id: 2)) == 1)
        #expect(AgentOptions().vm.maxInstructions == AgentOptions.defaultInstructionBudget)
    }

    @Test func theEnvironmentSetsTheBudget() throws {
        setenv("BPFTIME_AGENT_MAX_INSNS", "5000", 1)
        defer { unsetenv("BPFTIME_AGENT_MAX_INSNS") }
        #expect(try AgentOptions.fromEnvironment().vm.maxInstructions == 5000)
        for bad in ["0", "-1", "lots"] {
            setenv("BPFTIME_AGENT_MAX_INSNS", bad, 1)
            #expect(throws: AgentError.self) { try AgentOptions.fromEnvironment() }
        }
    }
}

import Foundation
import Testing

/// The example target's command line.
@Suite struct TargetTests {
    @Test(arguments: [["--bogus"], ["--iterations"], ["--iterations", "x"], ["--interval-ms", "-1"], ["--report-every", "0"], ["--engine", "bogus"]])
    func badArgumentsAreRefusedWithUsage(_ arguments: [String]) throws {
        let outcome = try run(Built.target, arguments)
        #expect(outcome.status == 2 && !outcome.signaled)
        #expect(outcome.stderr.contains("usage: bpftime-target"))
    }

    @Test func aMissingSegmentIsRefusedWithAMessage() throws {
        let outcome = try run(Built.target, ["--shm", "bpftime_agent_test_none_\(getpid())", "--iterations", "1"])
        #expect(outcome.status == 1 && !outcome.signaled)
        #expect(outcome.stderr.contains("no segment named"))
    }

    @Test func anUnknownEngineInTheEnvironmentIsRefused() throws {
        let outcome = try run(Built.target, ["--shm", "bpftime_agent_test_none_\(getpid())", "--iterations", "1"],
                              environment: ["BPFTIME_AGENT_ENGINE": "bogus"])
        #expect(outcome.status == 1 && !outcome.signaled)
        #expect(outcome.stderr.contains("unknown engine \"bogus\""))
    }

    @Test func printsItsHookAsModuleAndFileOffset() throws {
        let outcome = try run(Built.target, ["--print-hook"])
        #expect(outcome.ok)
        #expect(outcome.stdout.hasPrefix("bpftime-target:0x"))
    }
}

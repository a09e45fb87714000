import Foundation
import TestSupport
import Testing

/// `bpftimetool run` on programs of the segment, with map helpers writing the real segment.
@Suite(.serialized) struct RunEndToEndTests {
    @Test func doCountWritesTheSegmentsMap() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        let fixture = try SharedFiles.url("fixtures/bpftime/malloc.json")
        #expect(try tool.run(["import", fixture.path]).status == 0)
        let input = tool.temporaryFile("input.bin", contents: Data(repeating: 0, count: 16))
        defer { try? FileManager.default.removeItem(at: input) }

        let run = try tool.run(["run", "5", input.path, "repeat", "100", "type", "INTERPRET"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("Running eBPF program with id 5 and data in file \(input.path)"))
        #expect(run.stdout.contains("Repeat N: 100 with run type INTERPRET"))
        #expect(run.stdout.contains("Time taken: "))
        #expect(run.stdout.contains("Return value: 0"))

        // Another process sees the count under the run's pid.
        var pid = UInt32(run.pid).littleEndian
        let key = withUnsafeBytes(of: &pid) { $0.map { String(format: "%02x", $0) }.joined() }
        let value = try tool.run(["map", "get", "3", key])
        #expect(value.status == 0, "\(value.stderr)")
        #expect(value.stdout.contains("(100)"), "\(value.stdout)")
    }

    @Test func sumProgramSeesTheInputBytes() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        #expect(try tool.run(["import", ToolRunner.repositoryRoot.appendingPathComponent("Scripts/demo-state.json").path]).status == 0)
        let input = tool.temporaryFile("hello.bin", contents: Data("hello".utf8))
        defer { try? FileManager.default.removeItem(at: input) }
        let run = try tool.run(["run", "5", input.path, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let result = try #require(try JSONSerialization.jsonObject(with: run.stdoutBytes) as? [String: Any])
        #expect(result["return_value"] as? Int == 532)
        #expect(result["repeat"] as? Int == 1)
    }

    @Test(arguments: [
        (["run", "3", "/dev/null"], "not a bpf program"),
        (["run", "99999", "/dev/null"], "Invalid id 99999"),
        (["run", "5", "/nonexistent.bin"], "Unable to open data in file"),
        (["run", "5", "/dev/null", "repeat", "0"], "repeat"),
        (["run", "5", "/dev/null", "repeat", "x"], "repeat"),
        (["run", "5", "/dev/null", "type", "FAST"], "Invalid run type FAST"),
        (["run", "5", "/dev/null", "banana", "1"], "Invalid subcommand banana"),
    ])
    func badRunArguments(_ arguments: [String], _ message: String) throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        #expect(try tool.run(["import", ToolRunner.repositoryRoot.appendingPathComponent("Scripts/demo-state.json").path]).status == 0)
        let run = try tool.run(arguments)
        #expect(run.status != 0)
        #expect(run.stderr.contains(message), "\(run.stderr)")
    }

    @Test func runtimeFaultEndsTheRunWithAMessage() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        // ldxdw r0, [r1+4096]: past the end of a 16-byte input.
        let program = #"{"type": "bpf_prog_handler", "name": "oob", "attr": {"type": 0, "cnt": 2, "insns": "79100010000000009500000000000000"}}"#
        #expect(try tool.run(["load", "1", program]).status == 0)
        let input = tool.temporaryFile("small.bin", contents: Data(repeating: 1, count: 16))
        defer { try? FileManager.default.removeItem(at: input) }
        let run = try tool.run(["run", "1", input.path])
        #expect(run.status != 0)
        #expect(run.stderr.contains("instruction 0"), "\(run.stderr)")
        #expect(!run.stderr.contains("Fatal error"))
    }

    static func loadProgram(_ tool: ToolRunner, fd: Int, _ insns: [String]) throws {
        let program = #"{"type": "bpf_prog_handler", "name": "p", "attr": {"type": 0, "cnt": \#(insns.count), "insns": "\#(insns.joined())"}}"#
        let loaded = try tool.run(["load", String(fd), program])
        try #require(loaded.status == 0, "\(loaded.stderr)")
    }

    /// bpftool's data_out: the buffer as the program left it, after every repetition, written
    /// through the safe file writer (the segment itself is refused as an output).
    @Test func dataOutWritesTheBufferAsTheProgramLeftIt() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        // r0 = *(u8 *)(r1 + 0) + 1; *(u8 *)(r1 + 0) = r0
        try Self.loadProgram(tool, fd: 4, ["7110000000000000", "0700000001000000", "7301000000000000", "9500000000000000"])
        let input = tool.temporaryFile("in.bin", contents: Data([5, 9]))
        let output = tool.temporaryFile("out.bin")
        defer { for url in [input, output] { try? FileManager.default.removeItem(at: url) } }
        for type in ["INTERPRET", "JIT"] {
            let run = try tool.run(["run", "4", input.path, "repeat", "3", "type", type, "--data-out", output.path])
            #expect(run.status == 0 && run.stdout.contains("Return value: 8"), "\(run.stdout)\(run.stderr)")
            #expect(try Data(contentsOf: output) == Data([8, 9]), "\(type)")
        }
        #expect(try Data(contentsOf: input) == Data([5, 9]))
        let refused = try tool.run(["run", "4", input.path, "--data-out", "/dev/shm/\(tool.segmentName)"])
        #expect(refused.status != 0 && refused.stderr.contains("refusing to write"), "\(refused.stderr)")
        #expect(try tool.run(["check"]).status == 0)
    }

    /// bpftool's ctx_in: r1 points at the context, the data follows at the next 8-byte boundary.
    @Test func ctxInGivesTheProgramAContextBeforeTheData() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        // r0 = *(u64 *)(r1 + 0) + *(u8 *)(r1 + 8); *(u8 *)(r1 + 8) = r0
        try Self.loadProgram(tool, fd: 4, ["7910000000000000", "7112080000000000", "0f20000000000000", "7301080000000000", "9500000000000000"])
        let context = tool.temporaryFile("ctx.bin", contents: Data([0x10, 0, 0, 0, 0]))
        let input = tool.temporaryFile("in.bin", contents: Data([3]))
        let output = tool.temporaryFile("out.bin")
        defer { for url in [context, input, output] { try? FileManager.default.removeItem(at: url) } }
        let run = try tool.run(["run", "4", input.path, "--ctx-in", context.path, "--data-out", output.path, "--json"])
        try #require(run.status == 0, "\(run.stderr)")
        let result = try #require(try JSONSerialization.jsonObject(with: run.stdoutBytes) as? [String: Any])
        #expect(result["return_value"] as? Int == 0x13)
        #expect(try Data(contentsOf: output) == Data([0x13]))
    }
}

import Foundation
import TestSupport
import Testing

/// bpftime's own shapes that the tool used to refuse or change.
@Suite(.serialized) struct InteropTests {
    static func document(_ handlers: [String: String]) -> Data {
        Data(("{" + handlers.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}").utf8)
    }

    static func exported(_ tool: ToolRunner) throws -> [String: [String: Any]] {
        let result = try tool.run(["export", "-"])
        return try #require(try JSONSerialization.jsonObject(with: result.stdoutBytes) as? [String: [String: Any]], "\(result.stderr)")
    }

    @Test func negativeProgramTypesRoundTrip() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        let program = #"{"type": "bpf_prog_handler", "name": "p", "attr": {"type": -16368, "cnt": 2, "insns": "b7000000000000009500000000000000"}}"#
        let imported = try tool.run(["import", "-"], stdin: Self.document(["4": program]))
        try #require(imported.status == 0, "\(imported.stderr)")
        let attr = try #require(try Self.exported(tool)["4"]?["attr"] as? [String: Any])
        #expect(attr["type"] as? Int == -16368)
    }

    @Test func emptyPerCPUMapsRoundTrip() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        for (fd, type) in [(3, 5), (4, 10)] { // percpu_hash, lru_percpu_hash
            let map = #"{"type": "bpf_map_handler", "name": "m", "data": {}, "attr": {"map_type": \#(type), "key_size": 4, "value_size": 8, "max_entries": 4}}"#
            let loaded = try tool.run(["load", String(fd), map])
            #expect(loaded.status == 0, "\(loaded.stderr)")
        }
        // Our own export, empty maps written as "data": {}, goes back in.
        let other = ToolRunner()
        defer { other.cleanUp() }
        let imported = try other.run(["import", "-"], stdin: tool.run(["export", "-"]).stdoutBytes)
        #expect(imported.status == 0, "\(imported.stderr)")
    }

    @Test func memfdNamesLiveInAttrAsInBpftime() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        let loaded = try tool.run(["load", "5", #"{"type": "memfd_handler", "attr": {"flags": 1, "name": "ring"}}"#])
        try #require(loaded.status == 0, "\(loaded.stderr)")
        let memfd = try #require(try Self.exported(tool)["5"])
        #expect((memfd["attr"] as? [String: Any])?["name"] as? String == "ring")
        #expect(memfd["name"] == nil)
    }

    @Test func uprobeOverrideEventsDefaultToEnabled() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        let event = #"{"type": "bpf_perf_event_handler", "attr": {"type": 1008, "_module_name": "app", "offset": 16, "pid": -1, "ref_ctr_off": 0}}"#
        try #require(try tool.run(["load", "6", event]).status == 0)
        #expect(try Self.exported(tool)["6"]?["enabled"] as? Bool == true)
    }

    @Test func programsOverTheInstructionLimitAreRefusedAtImport() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        let count = 1_000_001
        let insns = String(repeating: "b700000000000000", count: count - 1) + "9500000000000000"
        let program = #"{"type": "bpf_prog_handler", "name": "big", "attr": {"type": 0, "cnt": \#(count), "insns": "\#(insns)"}}"#
        let result = try tool.run(["import", "-"], stdin: Self.document(["4": program]))
        #expect(result.status != 0)
        #expect(result.stderr.contains("more than the limit"), "\(String(result.stderr.prefix(500)))")
    }

    /// bpftime's redis export: kprobe-type (8) events and programs of type -16368; an event of
    /// a type given only as `{"type": 9}`. All are kept, and come back out as they went in.
    @Test func otherPerfEventTypesAreKeptAndRoundTrip() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        let redis = try SharedFiles.url("fixtures/bpftime/redis-export.json")
        let imported = try tool.run(["import", redis.path])
        try #require(imported.status == 0, "\(imported.stderr)")
        #expect(try tool.run(["load", "20", #"{"type": "bpf_perf_event_handler", "attr": {"type": 9}}"#]).status == 0)
        let exported = try Self.exported(tool)
        let original = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: redis)) as? [String: [String: Any]])
        for fd in ["8", "9", "10"] {
            let attr = try #require(exported[fd]?["attr"] as? [String: Any])
            let expected = try #require(original[fd]?["attr"] as? [String: Any])
            for field in ["type", "_module_name", "offset", "pid", "ref_ctr_off"] {
                #expect("\(attr[field] ?? "absent")" == "\(expected[field] ?? "absent")", "fd \(fd) \(field)")
            }
        }
        #expect(exported["20"]?["attr"] as? [String: Int] == ["type": 9])
        #expect(try tool.run(["list"]).stdout.contains("type 9 (kept, never fired)"))
    }
}

import Foundation
import TestSupport
import Testing

/// Import → export through the real executable, compared field by field with the input.
@Suite(.serialized) struct InterchangeEndToEndTests {
    /// bpftime fixtures whose every handler's references resolve within the file.
    static let fixtures = ["malloc.json", "minimal.json"]

    static func fixture(_ name: String) throws -> URL {
        let dir = try SharedFiles.url("fixtures/bpftime")
        return dir.appendingPathComponent(name)
    }

    static func jsonObject(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Every field of `expected` is in `actual` with the same value (our export may add fields).
    static func expectContains(_ actual: Any?, _ expected: Any, path: String) {
        switch expected {
        case let e as [String: Any]:
            guard let a = actual as? [String: Any] else { Issue.record("\(path): expected an object, got \(String(describing: actual))"); return }
            for (k, v) in e where !Self.obsolete(k, in: e) { expectContains(a[k], v, path: "\(path).\(k)") }
        case let e as [Any]:
            guard let a = actual as? [Any], a.count == e.count else { Issue.record("\(path): expected \(e), got \(String(describing: actual))"); return }
            for (i, v) in e.enumerated() { expectContains(a[i], v, path: "\(path)[\(i)]") }
        default:
            #expect((actual as? NSObject) == (expected as? NSObject), "\(path)")
        }
    }

    /// Older bpftime wrote `tracepoint_id: -1` on uprobes; its current exporter (and ours) does not.
    static func obsolete(_ key: String, in object: [String: Any]) -> Bool {
        key == "tracepoint_id" && [6, 7].contains(object["type"] as? Int)
    }

    @Test(arguments: fixtures)
    func importThenExportKeepsEveryField(_ name: String) throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        let input = try Self.fixture(name)
        let imported = try tool.run(["import", input.path])
        #expect(imported.status == 0, "\(imported.stderr)")
        let exported = try tool.run(["export", "-"])
        #expect(exported.status == 0, "\(exported.stderr)")
        let original = try Self.jsonObject(Data(contentsOf: input))
        let roundTripped = try Self.jsonObject(exported.stdoutBytes)
        #expect(Set(original.keys) == Set(roundTripped.keys))
        Self.expectContains(roundTripped, original, path: name)
    }

    @Test func exportOfBpftimeOutputIsByteIdentical() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        let input = try Self.fixture("malloc.json")
        #expect(try tool.run(["import", input.path]).status == 0)
        let exported = try tool.run(["export", "--no-data", "-"])
        #expect(exported.stdoutBytes == (try Data(contentsOf: input)))
    }

    @Test func mapContentsTravelThroughExportAndImport() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        #expect(try tool.run(["import", try Self.fixture("malloc.json").path]).status == 0)
        #expect(try tool.run(["map", "update", "3", "2a000000", "0700000000000000"]).status == 0)
        let file = tool.temporaryFile("export.json")
        defer { try? FileManager.default.removeItem(at: file) }
        #expect(try tool.run(["export", file.path]).status == 0)

        let other = ToolRunner()
        defer { other.cleanUp() }
        let imported = try other.run(["import", file.path])
        #expect(imported.status == 0, "\(imported.stderr)")
        let value = try other.run(["map", "get", "3", "2a000000"])
        #expect(value.stdout.contains("0700000000000000 (7)"), "\(value.stdout)\(value.stderr)")
    }

    /// ebpf.json (bpftime's README example) attaches its program to fds 2 and 3, which it does not
    /// define: the import is refused naming them, and goes through once they exist.
    @Test func danglingAttachmentsAreRefusedUntilTheTargetsExist() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        let input = try Self.fixture("ebpf.json")
        let refused = try tool.run(["import", input.path])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("fd 1") && refused.stderr.contains("2"), "\(refused.stderr)")

        let uprobe = #"{"type": "bpf_perf_event_handler", "enabled": true, "attr": {"type": 6, "_module_name": "victim", "offset": 4096, "pid": -1, "ref_ctr_off": 0}}"#
        #expect(try tool.run(["load", "2", uprobe]).status == 0)
        #expect(try tool.run(["load", "3", uprobe]).status == 0)
        let imported = try tool.run(["import", input.path])
        #expect(imported.status == 0, "\(imported.stderr)")
        let exported = try Self.jsonObject(tool.run(["export", "-"]).stdoutBytes)
        let original = try Self.jsonObject(Data(contentsOf: input))
        Self.expectContains(exported["1"], try #require(original["1"]), path: "ebpf.json.1")
    }

    /// With --allow-dangling, ebpf.json goes in as bpftime imports it: the program keeps
    /// attach_fds 2 and 3, one warning each; the segment stays consistent and usable.
    @Test func allowDanglingImportsBpftimesExampleAsIs() throws {
        let tool = ToolRunner(extraEnvironment: ["SPDLOG_LEVEL": "info"])
        defer { tool.cleanUp() }
        let input = try Self.fixture("ebpf.json")
        let refused = try tool.run(["import", input.path])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("--allow-dangling"), "\(refused.stderr)")

        let imported = try tool.run(["import", "--allow-dangling", input.path])
        try #require(imported.status == 0, "\(imported.stderr)")
        for target in [2, 3] {
            #expect(imported.stderr.contains("[warning] program fd 1 is attached to fd \(target), which holds no handler"), "\(imported.stderr)")
        }
        let exported = try Self.jsonObject(tool.run(["export", "-"]).stdoutBytes)
        Self.expectContains(exported["1"], try #require(try Self.jsonObject(Data(contentsOf: input))["1"]), path: "ebpf.json.1")
        #expect(try tool.run(["check"]).status == 0)
        #expect(try tool.run(["load", "7", #"{"type": "epoll_handler"}"#]).status == 0)
        #expect(try tool.run(["unload", "7"]).status == 0)
    }
}

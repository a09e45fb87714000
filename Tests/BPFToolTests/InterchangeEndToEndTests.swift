import Foundation
import Testing

/// Import → export through the real executable, compared field by field with the input.
@Suite(.serialized) struct InterchangeEndToEndTests {
    static let fixtures = ["malloc.json", "minimal.json", "ebpf.json"]

    static func fixture(_ name: String) throws -> URL {
        let dir = try #require(ToolRunner.sharedDirectory, "../shared is missing").appendingPathComponent("fixtures/bpftime")
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
            for (k, v) in e { expectContains(a[k], v, path: "\(path).\(k)") }
        case let e as [Any]:
            guard let a = actual as? [Any], a.count == e.count else { Issue.record("\(path): expected \(e), got \(String(describing: actual))"); return }
            for (i, v) in e.enumerated() { expectContains(a[i], v, path: "\(path)[\(i)]") }
        default:
            #expect((actual as? NSObject) == (expected as? NSObject), "\(path)")
        }
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
}

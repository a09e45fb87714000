import Foundation
import Testing

/// `--db` and `BPFTIME_SNAP_DB` name a file or a URL: a URL is never taken for a path.
@Suite struct HistoryLocationTests {
    /// Runs `arguments` in an empty directory and returns the result and what it left there.
    static func runInEmptyDirectory(_ tool: ToolRunner, _ arguments: [String]) throws -> (ToolRunner.Result, [String]) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("location_\(tool.segmentName)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try tool.run(arguments, in: dir)
        return (result, try FileManager.default.contentsOfDirectory(atPath: dir.path))
    }

    @Test func anUnknownSchemeIsAnErrorNotADirectory() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        for url in ["mysql://u@db/x", "http://h/x", "file:///tmp/x.db"] {
            let (result, left) = try Self.runInEmptyDirectory(tool, ["snap", "list", "--db", url])
            #expect(result.status != 0)
            #expect(result.stderr.contains("not a history this tool can use"), "\(result.stderr)")
            #expect(left.isEmpty, "created \(left)")
        }
    }

    @Test func aPostgresURLIsNeverAPath() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        // Port 1: nothing listens; whatever the command says, it creates nothing here.
        for command in [["snap", "list"], ["snap", "save"], ["snap", "gc"]] {
            let (result, left) = try Self.runInEmptyDirectory(tool, command + ["--db", "postgres://alice:s3cret-pw@127.0.0.1:1/fleet"])
            #expect(result.status != 0, "\(command)")
            #expect(left.isEmpty, "\(command) created \(left)")
            #expect(!result.stderr.contains("s3cret-pw"), "the password was printed: \(result.stderr)")
        }
    }

    @Test func theEnvironmentIsReadTheSameWay() throws {
        let tool = ToolRunner().adding(["BPFTIME_SNAP_DB": "redis://cache/0"])
        defer { tool.cleanUp() }
        let (result, left) = try Self.runInEmptyDirectory(tool, ["import", PathSafetyTests.demoState])
        #expect(result.status != 0)
        #expect(result.stderr.contains("redis://"), "\(result.stderr)")
        #expect(left.isEmpty, "created \(left)")
        #expect(try tool.run(["list"]).status != 0, "the import changed the segment although it could not be recorded")
    }
}

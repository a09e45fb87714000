import Foundation
import Testing

/// The snapshot history through the real executable: save, change, diff, restore.
@Suite(.serialized) struct SnapshotEndToEndTests {
    static let demoState = ToolRunner.repositoryRoot.appendingPathComponent("Scripts/demo-state.json").path

    /// A tool with a private history; changes are not recorded, so that the snapshot ids
    /// below are the saves' (recording has its own suite, `RecordingEndToEndTests`).
    static func withTool(_ body: (ToolRunner) throws -> Void) throws {
        let tool = ToolRunner(extraEnvironment: ["BPFTIME_SNAP_RECORD": "0"])
        defer { tool.cleanUp() }
        try body(tool)
    }

    @Test func diffShowsExactlyTheChangesAndRestoreUndoesThem() throws {
        try Self.withTool { tool in
            #expect(try tool.run(["import", Self.demoState]).status == 0)
            let firstExport = try tool.run(["export", "-"]).stdoutBytes
            #expect(try tool.run(["snap", "save", "-m", "first", "--tag", "base"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1")

            // Change it: a map update, a run of count_calls, a removed link, a new handler.
            #expect(try tool.run(["map", "update", "3", "02000000", "0900000000000000"]).status == 0)
            let input = tool.temporaryFile("in.bin", contents: Data("x".utf8))
            defer { try? FileManager.default.removeItem(at: input) }
            let run = try tool.run(["run", "4", input.path, "repeat", "3"])
            #expect(run.status == 0)
            #expect(try tool.run(["unload", "7"]).status == 0)
            #expect(try tool.run(["load", "8", #"{"type": "epoll_handler"}"#]).status == 0)
            #expect(try tool.run(["snap", "save", "-m", "second"]).status == 0)

            let diff = try tool.run(["snap", "diff", "base", "2", "--json"])
            #expect(diff.status == 1, "different states exit 1")
            let json = try #require(try JSONSerialization.jsonObject(with: diff.stdoutBytes) as? [String: Any])
            let added = try #require(json["added"] as? [[String: Any]])
            let removed = try #require(json["removed"] as? [[String: Any]])
            let changed = try #require(json["changed"] as? [[String: Any]])
            #expect(added.map { $0["fd"] as? Int } == [8])
            #expect(removed.map { $0["fd"] as? Int } == [7])
            #expect(changed.map { $0["fd"] as? Int } == [3])
            let entries = try #require(changed.first?["entries"] as? [String: Any])
            #expect(entries["added"] as? Int == 2)
            var pid = UInt32(run.pid).littleEndian
            let runKey = withUnsafeBytes(of: &pid) { $0.map { String(format: "%02x", $0) }.joined() }
            let details = try #require(entries["details"] as? [[String: Any]])
            #expect(Set(details.compactMap { $0["key"] as? String }) == ["02000000", runKey])

            let restore = try tool.run(["snap", "restore", "base"])
            #expect(restore.status == 0, "\(restore.stderr)")
            #expect(try tool.run(["export", "-"]).stdoutBytes == firstExport)
            #expect(try tool.run(["snap", "diff", "base", "live"]).status == 0)
            // The state before the restore was kept: it equals snapshot 2.
            #expect(try tool.run(["snap", "diff", "2", "3"]).status == 0)
        }
    }

    @Test func selectiveRestoreTouchesOnlyTheNamedFDs() throws {
        try Self.withTool { tool in
            #expect(try tool.run(["import", Self.demoState]).status == 0)
            #expect(try tool.run(["snap", "save"]).status == 0)
            #expect(try tool.run(["map", "update", "3", "02000000", "0900000000000000"]).status == 0)
            #expect(try tool.run(["unload", "7"]).status == 0)
            #expect(try tool.run(["unload", "6"]).status == 0)

            // fd 7 (a link to 6 and 4) cannot come back alone: 6 is gone.
            let refused = try tool.run(["snap", "restore", "1", "--fd", "7"])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("6"), "\(refused.stderr)")

            #expect(try tool.run(["snap", "restore", "1", "--fd", "7", "--with-deps"]).status == 0)
            let list = try tool.run(["list"]).stdout
            #expect(list.contains("prog 4 -> 6"))
            // The map was not named: its new entry stays.
            #expect(try tool.run(["map", "get", "3", "02000000"]).stdout.contains("(9)"))
        }
    }

    @Test func badReferencesAndDatabasesGiveClearErrors() throws {
        try Self.withTool { tool in
            #expect(try tool.run(["import", Self.demoState]).status == 0)
            for args in [["snap", "show", "42"], ["snap", "diff", "nosuchtag", "live"], ["snap", "restore", "7"]] {
                let r = try tool.run(args)
                #expect(r.status == (args[1] == "diff" ? 2 : 1), "\(args)")
                #expect(!r.stderr.isEmpty && !r.stderr.contains("Fatal error"), "\(args): \(r.stderr)")
            }
            let garbage = tool.temporaryFile("garbage.db", contents: Data((0 ..< 8192).map { UInt8(truncatingIfNeeded: $0 &* 7) }))
            defer { try? FileManager.default.removeItem(at: garbage) }
            let before = try Data(contentsOf: garbage)
            let corrupt = try tool.run(["snap", "list", "--db", garbage.path])
            #expect(corrupt.status != 0)
            #expect(!corrupt.stderr.isEmpty && !corrupt.stderr.contains("Fatal error"))
            #expect(try Data(contentsOf: garbage) == before, "a corrupt database is left untouched")
        }
    }
}

import Foundation
import Testing

/// Issue 9 through the real executable: what a new user tried, each now right.
@Suite(.serialized) struct RestoreEndToEndTests {
    static let demoState = SnapshotEndToEndTests.demoState
    static let withTool = SnapshotEndToEndTests.withTool

    static func snapshotIDs(_ tool: ToolRunner) throws -> [Int] {
        let list = try tool.run(["snap", "list", "--json"])
        let rows = try JSONSerialization.jsonObject(with: list.stdoutBytes) as? [[String: Any]] ?? []
        return rows.compactMap { $0["id"] as? Int }
    }

    /// Item 2: a map whose entries did not change is not replaced.
    @Test func restorePlansNothingWhereDiffSeesNothing() throws {
        try Self.withTool { tool in
            #expect(try tool.run(["import", Self.demoState]).status == 0)
            #expect(try tool.run(["map", "update", "3", "00000000", "0100000000000000"]).status == 0)
            #expect(try tool.run(["snap", "save"]).status == 0)
            #expect(try tool.run(["snap", "diff", "1", "live"]).stdout.contains("no differences"))
            let plan = try tool.run(["snap", "restore", "1", "--dry-run"])
            #expect(plan.status == 0)
            #expect(plan.stdout.contains("nothing to restore"), "\(plan.stdout)")
        }
    }

    /// Item 3 through the tool: a 400,000-entry hash map in a default 20 MiB segment.
    @Test func largeMapRestoresInTheDefaultSegment() throws {
        try Self.withTool { tool in
            var text = "{\"3\": {\"attr\": {\"key_size\": 4, \"map_type\": 1, \"max_entries\": 400000, \"value_size\": 8}, \"data\": {"
            text += (0 ..< 400_000).map { i in
                let key = withUnsafeBytes(of: UInt32(i).littleEndian) { $0.map { String(format: "%02x", $0) }.joined() }
                return "\"\(key)\": \"0100000000000000\""
            }.joined(separator: ",")
            text += "}, \"name\": \"big\", \"type\": \"bpf_map_handler\"}}"
            let file = tool.temporaryFile("big.json", contents: Data(text.utf8))
            defer { try? FileManager.default.removeItem(at: file) }
            #expect(try tool.run(["import", file.path]).status == 0)
            #expect(try tool.run(["snap", "save"]).status == 0)
            #expect(try tool.run(["map", "update", "3", "07000000", "0900000000000000"]).status == 0)
            let restore = try tool.run(["snap", "restore", "1"])
            #expect(restore.status == 0, "\(restore.stderr)")
            #expect(try tool.run(["map", "get", "3", "07000000"]).stdout.contains("(1)"))
            #expect(try tool.run(["check"]).status == 0)
        }
    }

    /// Items 6 and 7: a typo creates no segment, read-only commands create no files.
    @Test func typosAndReadsCreateNothing() throws {
        try Self.withTool { tool in
            #expect(try tool.run(["import", Self.demoState]).status == 0)
            #expect(try tool.run(["snap", "save"]).status == 0)
            let typo = "\(tool.segmentName)_typo"
            let refused = try tool.run(["snap", "restore", "1", "--shm", typo])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("no segment named \(typo)"), "\(refused.stderr)")
            #expect(!FileManager.default.fileExists(atPath: "/dev/shm/\(typo)"))
            #expect(try Self.snapshotIDs(tool) == [1], "a refused restore records nothing")
            let created = try tool.run(["snap", "restore", "1", "--shm", typo, "--create"])
            #expect(created.status == 0, "\(created.stderr)")
            #expect(try tool.run(["list", "--shm", typo]).stdout.contains("demo_counts"))
            _ = try tool.run(["remove", "--shm", typo])

            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(tool.segmentName)_nohome").path
            for args in [["snap", "list"], ["snap", "show", "1"], ["snap", "diff", "1", "live"], ["snap", "export", "1", "-"]] {
                let r = try tool.run(args + ["--db", dir + "/no/such/h.db"])
                #expect(r.status != 0 && r.stderr.contains("no history at \(dir)/no/such/h.db"), "\(args): \(r.stderr)")
            }
            let noHome = ToolRunner(extraEnvironment: ["HOME": dir, "BPFTIME_SNAP_DB": ""])
            #expect(try noHome.run(["snap", "list"]).status != 0)
            #expect(!FileManager.default.fileExists(atPath: dir), "nothing was created under HOME")
        }
    }

    /// Items 8 and 9: ids are never reused; `live` is not a tag; tags move and go only when asked.
    @Test func idsAndTags() throws {
        try Self.withTool { tool in
            #expect(try tool.run(["import", Self.demoState]).status == 0)
            for _ in 0 ..< 3 { #expect(try tool.run(["snap", "save"]).status == 0) }
            #expect(try tool.run(["snap", "rm", "3"]).status == 0)
            #expect(try tool.run(["snap", "save"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "4")
            let live = try tool.run(["snap", "tag", "1", "live"])
            #expect(live.status != 0 && live.stderr.contains("reserved"), "\(live.stderr)")
            #expect(try tool.run(["snap", "save", "--tag", "live"]).status != 0)
            #expect(try tool.run(["snap", "tag", "1", "stable"]).status == 0)
            #expect(try tool.run(["snap", "tag", "2", "stable"]).status != 0)
            #expect(try tool.run(["snap", "tag", "-f", "2", "stable"]).status == 0)
            let shown = try JSONSerialization.jsonObject(with: tool.run(["snap", "show", "stable", "--json"]).stdoutBytes) as? [String: Any]
            #expect((shown?["snapshot"] as? [String: Any])?["id"] as? Int == 2, "the tag moved")
            #expect(try tool.run(["snap", "tag", "-d", "stable"]).status == 0)
            #expect(try tool.run(["snap", "show", "stable"]).status != 0)
            #expect(try Self.snapshotIDs(tool) == [1, 2, 4])
        }
    }

    /// Item 10: `snap import` refuses what `import` refuses; a damaged history says so.
    @Test func snapImportValidatesAndDamageIsNamed() throws {
        try Self.withTool { tool in
            let dangling = tool.temporaryFile("dangling.json", contents: Data(#"{"7": {"attr": {"attach_type": 0, "prog_fd": 4, "target_fd": 6}, "type": "bpf_link_handler"}}"#.utf8))
            let beyond = tool.temporaryFile("beyond.json", contents: Data(#"{"3": {"attr": {"key_size": 4, "map_type": 2, "max_entries": 4, "value_size": 8}, "data": {"09000000": "0100000000000000"}, "name": "a", "type": "bpf_map_handler"}}"#.utf8))
            defer { for f in [dangling, beyond] { try? FileManager.default.removeItem(at: f) } }
            for file in [dangling, beyond] {
                let imported = try tool.run(["import", file.path])
                let recorded = try tool.run(["snap", "import", file.path])
                #expect(imported.status != 0 && recorded.status != 0)
                #expect(recorded.stderr == imported.stderr, "the same check, the same words")
            }
            #expect(!FileManager.default.fileExists(atPath: tool.environment["BPFTIME_SNAP_DB"] ?? ""), "nothing was recorded")

            #expect(try tool.run(["import", Self.demoState]).status == 0)
            #expect(try tool.run(["snap", "save"]).status == 0)
            let database = try #require(tool.environment["BPFTIME_SNAP_DB"])
            let damage = Process()
            damage.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
            damage.arguments = [database, "DELETE FROM blobs WHERE id = (SELECT program FROM handler_states WHERE name = 'sum_bytes')"]
            try damage.run()
            damage.waitUntilExit()
            #expect(try tool.run(["unload", "5"]).status == 0)
            let restore = try tool.run(["snap", "restore", "1"])
            #expect(restore.status != 0)
            #expect(restore.stderr.contains("history damaged: program blob"), "\(restore.stderr)")
            #expect(restore.stderr.contains("fd 5"), "\(restore.stderr)")
        }
    }

    /// Item 4: another process loads, unloads and updates maps while restores run; every
    /// restore's undo snapshot is the state right before it (nothing happened between the
    /// read and the apply: the apply is the next generation), or the restore refused.
    @Test func restoresUnderConcurrentChanges() throws {
        try Self.withTool { tool in
            #expect(try tool.run(["import", Self.demoState]).status == 0)
            #expect(try tool.run(["snap", "save"]).status == 0)
            let stop = tool.temporaryFile("stop")
            defer { try? FileManager.default.removeItem(at: stop) }
            let loop = Process()
            loop.executableURL = URL(fileURLWithPath: "/bin/sh")
            loop.arguments = ["-c", """
                i=0; while [ ! -e "$1" ]; do i=$((i+1))
                "$0" load 20 '{"type": "memfd_handler", "name": "m'$i'"}'; "$0" map update 3 05000000 0100000000000000
                "$0" unload 20; "$0" unload 8; "$0" load 8 '{"type": "epoll_handler"}'; done
                """, ToolRunner.executable.path, stop.path]
            loop.environment = tool.environment
            loop.standardOutput = FileHandle.nullDevice
            loop.standardError = FileHandle.nullDevice
            try loop.run()
            let verbose = ToolRunner(extraEnvironment: ["BPFTIME_GLOBAL_SHM_NAME": tool.segmentName, "SPDLOG_LEVEL": "info"]
                                     .merging(["BPFTIME_SNAP_DB": tool.environment["BPFTIME_SNAP_DB"] ?? ""]) { $1 })
            var applied = 0
            for _ in 0 ..< 12 {
                let r = try verbose.run(["snap", "restore", "1"])
                // A restore that found nothing to do (the loop had not changed anything since the last one) applied nothing.
                guard r.status == 0, let undoLine = r.stdout.split(separator: "\n").last(where: { $0.hasPrefix("previous state saved as snapshot") }),
                      let undo = undoLine.split(separator: " ").last.flatMap({ Int($0) }) else { continue }
                applied += 1
                let show = try tool.run(["snap", "show", String(undo), "--json"])
                let json = try JSONSerialization.jsonObject(with: show.stdoutBytes) as? [String: Any]
                let generation = (json?["snapshot"] as? [String: Any])?["generation"] as? Int
                let after = r.stderr.split(separator: "\n").last { $0.contains("restored snapshot 1") }
                #expect(after?.contains("at generation \((generation ?? -2) + 1)") == true, "\(r.stderr)")
            }
            #expect(FileManager.default.createFile(atPath: stop.path, contents: nil))
            loop.waitUntilExit()
            #expect(applied > 0)
            #expect(try tool.run(["check"]).status == 0)
        }
    }
}

import Foundation
import Testing

/// The history's questions and housekeeping through the real executable: log, references,
/// diff summaries, save --if-changed, list filters, prune, gc, du and watch.
@Suite(.serialized) struct HistoryEndToEndTests {
    static func lines(_ text: String) -> [String] { text.split(separator: "\n").map(String.init) }

    /// The demo state saved as snapshot 1 (tag base), then with key 1 counted up to 7 (2), then
    /// without the link at fd 7 (3).
    static func threeSnapshots(_ tool: ToolRunner) throws {
        #expect(try tool.run(["import", SnapshotEndToEndTests.demoState]).status == 0)
        #expect(try tool.run(["snap", "save", "-m", "first", "--tag", "base"]).stdout == "1\n")
        #expect(try tool.run(["map", "update", "3", "01000000", "0700000000000000"]).status == 0)
        #expect(try tool.run(["snap", "save", "-m", "second"]).stdout == "2\n")
        #expect(try tool.run(["unload", "7"]).status == 0)
        #expect(try tool.run(["snap", "save", "-m", "third"]).stdout == "3\n")
    }

    @Test func logAnswersWhatChangedNewestFirst() throws {
        try SnapshotEndToEndTests.withTool { tool in
            try Self.threeSnapshots(tool)
            let log = try tool.run(["snap", "log"])
            #expect(log.status == 0)
            #expect(Self.lines(log.stdout).filter { $0.hasPrefix("snapshot ") }.map { $0.split(separator: " ")[1] } == ["3", "2", "1"])
            #expect(log.stdout.contains("UTC") && log.stdout.contains("- fd 7 bpf_link_handler") && log.stdout.contains("    second"))

            let one = try #require(try JSONSerialization.jsonObject(with: tool.run(["snap", "log", "-n", "1", "--json"]).stdoutBytes) as? [[String: Any]])
            #expect(one.count == 1)
            #expect((one.first?["snapshot"] as? [String: Any])?["id"] as? Int == 3)
            #expect(((one.first?["changes"] as? [String: Any])?["removed"] as? [[String: Any]])?.map { $0["fd"] as? Int } == [7])

            let fd3 = try tool.run(["snap", "log", "--fd", "3"]).stdout
            #expect(Self.lines(fd3).filter { $0.hasPrefix("snapshot ") }.map { $0.split(separator: " ")[1] } == ["2", "1"])
            let key = Self.lines(try tool.run(["snap", "log", "--fd", "3", "--key", "01000000"]).stdout)
            #expect(key.count == 2)
            #expect(key.first?.hasPrefix("snapshot 2 ") == true && key.first?.hasSuffix("changed  0500000000000000 (5) → 0700000000000000 (7)") == true)
            #expect(key.last?.hasPrefix("snapshot 1 ") == true && key.last?.hasSuffix("added    0500000000000000 (5)") == true)
            let deleted = try #require(try JSONSerialization.jsonObject(with: tool.run(["snap", "log", "--fd", "7", "--json"]).stdoutBytes) as? [[String: Any]])
            #expect(deleted.map { ($0["snapshot"] as? [String: Any])?["id"] as? Int } == [3, 1])

            #expect(try tool.run(["snap", "log", "--segment", "nosuch"]).stdout.isEmpty)
            #expect(Self.lines(try tool.run(["snap", "log", "--since", "1h"]).stdout).filter { $0.hasPrefix("snapshot ") }.count == 3)
            #expect(try tool.run(["snap", "log", "--since", "2999-01-01"]).stdout.isEmpty)
            let badKey = try tool.run(["snap", "log", "--fd", "3", "--key", "0100"])
            #expect(badKey.status != 0 && badKey.stderr.contains("4-byte keys"), "\(badKey.stderr)")
            #expect(try tool.run(["snap", "log", "--key", "01000000"]).status != 0)
        }
    }

    @Test func referencesAndDiffSummaries() throws {
        try SnapshotEndToEndTests.withTool { tool in
            try Self.threeSnapshots(tool)
            #expect(try tool.run(["snap", "diff", "latest~1", "latest"]).status == 1)
            #expect(try tool.run(["snap", "diff", "base~0", "1"]).status == 0)
            #expect(try tool.run(["snap", "diff", "3~2", "base"]).status == 0)
            #expect(try tool.run(["snap", "show", "latest~"]).stdout.hasPrefix("snapshot 2 "))
            #expect(try tool.run(["snap", "diff", "latest"]).status == 0, "one argument: against the live segment")
            #expect(try tool.run(["snap", "diff", "base"]).status == 1)
            let tooFar = try tool.run(["snap", "diff", "1~1", "2"])
            #expect(tooFar.status == 2 && tooFar.stderr.contains("1~1"))
            #expect(try tool.run(["snap", "tag", "1", "latest"]).status != 0)
            #expect(try tool.run(["snap", "tag", "1", "a~1"]).status != 0)

            let stat = Self.lines(try tool.run(["snap", "diff", "--stat", "1", "3"]).stdout)
            #expect(stat.count == 3)
            #expect(stat[0].hasPrefix(" fd 3 bpf_map_handler \"demo_counts\"") && stat[0].hasSuffix("| entries +0 -0 ~1"))
            #expect(stat[1].hasPrefix(" fd 7 bpf_link_handler") && stat[1].hasSuffix("| removed"))
            #expect(stat[2] == " handlers: 0 added, 1 removed, 1 changed; map entries: 0 added, 0 removed, 1 changed")
            #expect(try tool.run(["snap", "diff", "--name-only", "1", "3"]).stdout == "3\n7\n")
            // A removed handler comes with its details.
            #expect(try tool.run(["snap", "diff", "1", "3"]).stdout.contains("- fd 7 bpf_link_handler  prog 4 -> 6"))
        }
    }

    @Test func ifChangedListPruneGcAndDu() throws {
        try SnapshotEndToEndTests.withTool { tool in
            #expect(try tool.run(["import", SnapshotEndToEndTests.demoState]).status == 0)
            #expect(try tool.run(["snap", "save", "--if-changed", "--tag", "keep"]).stdout == "1\n")
            let same = try tool.run(["snap", "save", "--if-changed"])
            #expect(same.status == 0 && same.stdout.isEmpty)
            // A program's count changes a map value without changing the handler table.
            let input = tool.temporaryFile("in.bin", contents: Data("x".utf8))
            defer { try? FileManager.default.removeItem(at: input) }
            for id in 2...4 {
                #expect(try tool.run(["run", "4", input.path]).status == 0)
                #expect(try tool.run(["snap", "save", "--if-changed"]).stdout == "\(id)\n")
            }

            let newest = Self.lines(try tool.run(["snap", "list", "-n", "1"]).stdout)
            #expect(newest.count == 2 && newest[1].hasPrefix("4 ") && newest[1].contains(" UTC "))
            #expect(Self.lines(try tool.run(["snap", "list", "--segment", "nosuch"]).stdout).count == 1)

            #expect(try tool.run(["snap", "prune"]).status != 0, "no policy")
            let dry = try tool.run(["snap", "prune", "--keep-last", "1", "--dry-run"])
            #expect(dry.status == 0 && dry.stdout.contains("would remove 2 of 4"))
            #expect(Self.lines(try tool.run(["snap", "list"]).stdout).count == 5)
            #expect(try tool.run(["snap", "prune", "--keep-last", "1"]).stdout.contains("removed 2 of 4"))
            #expect(Self.lines(try tool.run(["snap", "list"]).stdout).dropFirst().map { $0.split(separator: " ")[0] } == ["1", "4"])

            let gc = try tool.run(["snap", "gc"])
            #expect(gc.status == 0 && gc.stdout.contains("file ") && gc.stdout.contains(" bytes)"), "\(gc.stdout)")
            let du = try #require(try JSONSerialization.jsonObject(with: tool.run(["snap", "du", "--json"]).stdoutBytes) as? [String: Any])
            #expect((du["segments"] as? [[String: Any]])?.map { $0["name"] as? String } == [tool.segmentName])
            #expect((du["maps"] as? [[String: Any]])?.first?["name"] as? String == "demo_counts")
            #expect(du["file_bytes"] as? Int ?? 0 > 0)
        }
    }

    @Test func watchSavesOnChangeAndStopsCleanlyOnSIGINT() throws {
        try SnapshotEndToEndTests.withTool { tool in
            #expect(try tool.run(["import", SnapshotEndToEndTests.demoState]).status == 0)
            let process = Process()
            process.executableURL = ToolRunner.executable
            process.arguments = ["snap", "watch", "--interval", "200ms"]
            var environment = tool.environment
            environment["SPDLOG_LEVEL"] = "info"
            process.environment = environment
            let err = Pipe()
            process.standardError = err
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            defer { if process.isRunning { process.terminate() } }
            func waitForSnapshots(_ count: Int) throws {
                for _ in 0..<100 {
                    if Self.lines(try tool.run(["snap", "list"]).stdout).count > count { return }
                    usleep(100_000)
                }
            }
            try waitForSnapshots(1)
            #expect(try tool.run(["map", "update", "3", "01000000", "0900000000000000"]).status == 0)
            try waitForSnapshots(2)
            usleep(500_000)  // unchanged: nothing more is saved
            kill(process.processIdentifier, SIGINT)
            process.waitUntilExit()
            let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(process.terminationStatus == 0, "\(log)")
            #expect(Self.lines(log).filter { $0.contains("[info] snapshot ") }.count == 2, "\(log)")
            #expect(log.contains("stopped watching"))
            #expect(Self.lines(try tool.run(["snap", "list"]).stdout).count == 3)
        }
    }
}

import Foundation
import Testing
import TestSupport

/// How a change is recorded, through the real executable: a map change over the segment's
/// latest snapshot as its written entries alone (and only then), `prog load`, and a history
/// locked past its timeout.
@Suite(.serialized) struct RecordedChangeEndToEndTests {
    static let fastPath = "written entries over snapshot"

    /// A hash map of 400 entries at fd 3 (big enough for a change to be stored as a layer),
    /// each value `first` more than its index (mod 256).
    static func countersDocument(_ tool: ToolRunner, first: Int = 1) throws -> String {
        let entries = (0 ..< 400).map { i in
            (String(format: "%08x", UInt32(truncatingIfNeeded: i &* 2_654_435_761).byteSwapped),
             String(format: "%02x00000000000000", (i + first) % 256))
        }.sorted { $0.0 < $1.0 }
        let data = entries.map { "\"\($0.0)\": \"\($0.1)\"" }.joined(separator: ", ")
        let json = #"{"3": {"attr": {"flags": 0, "key_size": 4, "map_type": 1, "max_entries": 1000, "value_size": 8}, "data": {"# + data
            + #"}, "name": "counters", "type": "bpf_map_handler"}}"#
        return tool.temporaryFile("counters-\(first).json", contents: Data(json.utf8)).path
    }

    static func withTool(_ body: (ToolRunner) throws -> Void) throws {
        try ToolRunner.using(["SPDLOG_LEVEL": "debug"], body)
    }

    @Test func aMapChangeOverTheLatestSnapshotIsRecordedAsItsWrittenEntries() throws {
        try Self.withTool { tool in
            try RecordingEndToEndTests.expectOneRecorded(tool, ["import", try Self.countersDocument(tool)])
            for change in [["map", "update", "3", "00000000", "0900000000000000"],   // changed
                           ["map", "update", "3", "ffffffff", "0100000000000000"],   // added
                           ["map", "delete", "3", "00000000"],                       // deleted
                           ["map", "update", "3", "00000000", "0200000000000000"]] { // added again
                let before = try RecordingEndToEndTests.ids(tool)
                let id = try #require(try RecordingEndToEndTests.expectOneRecorded(tool, change))
                let log = try tool.run(["snap", "show", String(id)]).stdout
                #expect(log.contains(change.prefix(2).joined(separator: " ")), "\(log)")
                #expect(try #require(before.last) == id - 1)
            }
            // Each of those took the fast path (the log says so), and a save sees nothing new.
            let update = try tool.run(["map", "update", "3", "00000000", "0300000000000000"])
            #expect(update.stderr.contains(Self.fastPath), "\(update.stderr)")
            let count = try RecordingEndToEndTests.ids(tool).count
            let save = try tool.run(["snap", "save", "--if-changed"])
            #expect(save.status == 0 && save.stdout.isEmpty, "\(save.stdout)")
            #expect(try RecordingEndToEndTests.ids(tool).count == count)
            // Writing the value a key already holds records nothing.
            let same = try tool.run(["map", "update", "3", "00000000", "0300000000000000"])
            #expect(same.stderr.contains("unchanged since snapshot"), "\(same.stderr)")
            #expect(try RecordingEndToEndTests.ids(tool).count == count)
        }
    }

    @Test func aChangeNotStartingFromTheLatestSnapshotRecordsTheWholeState() throws {
        try Self.withTool { tool in
            let document = try Self.countersDocument(tool)
            #expect(try tool.run(["import", document]).status == 0)
            // A change the history did not see: the next one cannot start from the latest snapshot.
            #expect(try tool.run(["map", "update", "3", "00000000", "0500000000000000", "--no-record"]).status == 0)
            let update = ["map", "update", "3", "01000000", "0600000000000000"]
            let result = try tool.run(update)
            #expect(result.status == 0 && !result.stderr.contains(Self.fastPath), "\(result.stderr)")
            let id = try #require(try RecordingEndToEndTests.ids(tool).last)
            let stored = try tool.run(["snap", "export", String(id), "-"]).stdoutBytes
            #expect(stored == (try tool.run(["export", "-", "--no-record"]).stdoutBytes), "the unrecorded change is in the snapshot too")

            // The same name and generation as the latest snapshot, but another segment holding
            // other values: its changes cannot start from that snapshot.
            #expect(try tool.run(["remove"]).status == 0)
            #expect(try tool.run(["import", document]).status == 0)
            #expect(try tool.run(["remove"]).status == 0)
            #expect(try tool.run(["import", try Self.countersDocument(tool, first: 7), "--no-record"]).status == 0)
            let status = try JSONSerialization.jsonObject(with: try tool.run(["status", "--json"]).stdoutBytes) as? [String: Any]
            #expect(status?["generation"] as? Int == (try Self.latestGeneration(tool)), "the generations match")
            let again = try tool.run(["map", "update", "3", "02000000", "0800000000000000"])
            #expect(again.status == 0 && !again.stderr.contains(Self.fastPath), "\(again.stderr)")
            let last = try #require(try RecordingEndToEndTests.ids(tool).last)
            #expect(try tool.run(["snap", "export", String(last), "-"]).stdoutBytes == (try tool.run(["export", "-", "--no-record"]).stdoutBytes))
        }
    }

    @Test(.enabled(if: ExampleCompiler.clang != nil, Comment(rawValue: ExampleCompiler.skipReason)))
    func progLoadRecordsExactlyTheStateItLeaves() throws {
        try Self.withTool { tool in
            let object = try ExampleCompiler.compile("uprobe_counter")
            try RecordingEndToEndTests.expectOneRecorded(tool, ["prog", "load", object.path])
            #expect(try RecordingEndToEndTests.ids(tool).count == 1)
        }
    }

    /// Another process holds the history's write lock (a `sqlite3` shell inside BEGIN IMMEDIATE)
    /// for longer than `BPFTIME_SNAP_BUSY_TIMEOUT`: the change stands, exit status 3.
    @Test func aHistoryLockedPastItsTimeoutKeepsTheChangeAndExitsThree() throws {
        try Self.withTool { tool in
            #expect(try tool.run(["import", try Self.countersDocument(tool)]).status == 0)
            let before = try RecordingEndToEndTests.ids(tool)
            let holder = try LockHolder(database: tool.historyPath)
            let locked = tool.adding(["BPFTIME_SNAP_BUSY_TIMEOUT": "0.5"])
            let started = Date()
            let update = try locked.run(["map", "update", "3", "00000000", "0900000000000000"])
            let waited = Date().timeIntervalSince(started)
            holder.release()
            #expect(update.status == 3, "\(update.stderr)")
            #expect(update.stderr.contains("[error] the change stands, but it was not recorded in the history \(tool.historyPath)"), "\(update.stderr)")
            #expect(update.stderr.contains("locked"), "\(update.stderr)")
            #expect(waited < 60, "the timeout is the one asked for, not the default 120 s")
            #expect(try tool.run(["map", "get", "3", "00000000"]).stdout.contains("(9)"), "the change stands")
            #expect(try RecordingEndToEndTests.ids(tool) == before)

            let bad = try tool.adding(["BPFTIME_SNAP_BUSY_TIMEOUT": "soon"]).run(["snap", "list"])
            #expect(bad.status == 1 && bad.stderr.contains("BPFTIME_SNAP_BUSY_TIMEOUT=soon is not a number"), "\(bad.stderr)")
        }
    }

    static func latestGeneration(_ tool: ToolRunner) throws -> Int {
        Int(try shell("/usr/bin/sqlite3", [tool.historyPath, "SELECT generation FROM snapshots ORDER BY id DESC LIMIT 1"])
            .trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }
}

/// A `sqlite3` shell holding a database's write lock until released.
final class LockHolder {
    private let process = Process()
    private let input = Pipe()

    init(database: String) throws {
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = [database]
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data("BEGIN IMMEDIATE;\nSELECT 'held';\n".utf8))
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("held") {
            let more = output.fileHandleForReading.availableData
            guard !more.isEmpty else { throw ShellError(description: "sqlite3 ended before taking the lock") }
            seen += more
        }
    }

    func release() {
        guard process.isRunning else { return }
        input.fileHandleForWriting.write(Data("ROLLBACK;\n.quit\n".utf8))
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    deinit { release() }
}

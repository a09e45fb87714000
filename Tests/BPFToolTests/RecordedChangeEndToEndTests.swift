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

    /// A program that adds one to the u64 at key 0 of the map at `fd`, in place, through the
    /// pointer `bpf_map_lookup_elem` hands it (no update: the generation does not move).
    static func incrementInPlace(fd: Int) -> String {
        ["620afcff00000000", "181100000\(fd)000000", "0000000000000000", "bfa2000000000000", "07020000fcffffff",
         "8500000001000000", "1500030000000000", "7901000000000000", "0701000001000000", "7b10000000000000",
         "b700000000000000", "9500000000000000"].joined()
    }

    /// The counters at fd 3 (the 400-entry hash), an array of one counter at fd 4, and at fd 5
    /// and 6 programs incrementing key 0 of each in place.
    static func countersAndProgramsDocument(_ tool: ToolRunner) throws -> String {
        var document = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: try countersDocument(tool)))) as! [String: Any]
        document["4"] = ["attr": ["flags": 0, "key_size": 4, "map_type": 2, "max_entries": 1, "value_size": 8],
                         "data": ["00000000": "0000000000000000"], "name": "calls", "type": "bpf_map_handler"]
        for (fd, map) in [(5, 3), (6, 4)] {
            document[String(fd)] = ["attr": ["cnt": 12, "insns": incrementInPlace(fd: map), "type": 0], "name": "count_\(map)",
                                    "type": "bpf_prog_handler"]
        }
        return tool.temporaryFile("counters-and-programs.json", contents: try JSONSerialization.data(withJSONObject: document)).path
    }

    /// Between two recorded `map update`s of the 400-entry map, a program increments a counter
    /// in place: the second one's snapshot holds the counter's new value, recorded as the
    /// change's entries with the counter's map read whole, or (when the program wrote the
    /// changed map itself) as the whole state.
    @Test(arguments: [(program: 6, fastPath: true), (program: 5, fastPath: false)])
    func valuesProgramsWroteInPlaceAreRecorded(program: Int, fastPath: Bool) throws {
        try Self.withTool { tool in
            try RecordingEndToEndTests.expectOneRecorded(tool, ["import", try Self.countersAndProgramsDocument(tool)])
            let first = try tool.run(["map", "update", "3", "01020304", "0100000000000000"])
            #expect(first.status == 0 && first.stderr.contains(Self.fastPath), "\(first.stderr)")
            let input = tool.temporaryFile("input.bin", contents: Data(repeating: 0, count: 16))
            let run = try tool.run(["run", String(program), input.path, "repeat", "5"])
            #expect(run.status == 0 && run.stdout.contains("Return value: 0"), "\(run.stderr)")
            #expect(try tool.run(["map", "get", program == 6 ? "4" : "3", "00000000"]).stdout.contains("(\(program == 6 ? 5 : 6))"))

            let second = try tool.run(["map", "update", "3", "05060708", "0200000000000000"])
            #expect(second.status == 0, "\(second.stderr)")
            #expect(second.stderr.contains(Self.fastPath) == fastPath, "\(second.stderr)")
            if fastPath { #expect(second.stderr.contains("and 1 maps programs wrote in place"), "\(second.stderr)") }
            let id = try #require(try RecordingEndToEndTests.ids(tool).last)
            let stored = try tool.run(["snap", "export", String(id), "-"]).stdoutBytes
            #expect(stored == (try tool.run(["export", "-", "--no-record"]).stdoutBytes), "the counter's new value is recorded")

            // The mark was taken: the next change, with no program run since, reads no map whole.
            let third = try tool.run(["map", "update", "3", "05060708", "0300000000000000"])
            #expect(third.stderr.contains("\(Self.fastPath) \(id), and 0 maps"), "\(third.stderr)")
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

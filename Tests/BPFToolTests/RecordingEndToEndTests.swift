import Foundation
import Testing

/// Every export and every change recorded in the history, through the real executable.
@Suite(.serialized) struct RecordingEndToEndTests {
    static let demoState = ToolRunner.repositoryRoot.appendingPathComponent("Scripts/demo-state.json").path
    static let queueMap = #"{"type": "bpf_map_handler", "name": "jobs", "attr": {"map_type": 22, "key_size": 0, "value_size": 4, "max_entries": 8}}"#

    static func withTool(_ body: (ToolRunner) throws -> Void) throws {
        let tool = ToolRunner(extraEnvironment: ["SPDLOG_LEVEL": "info"])
        defer { tool.cleanUp() }
        try body(tool)
    }

    /// The snapshots' ids, oldest first (none when there is no history yet).
    static func ids(_ tool: ToolRunner) throws -> [Int] {
        let list = try tool.run(["snap", "list", "--json"])
        guard list.status == 0 else { return [] }
        let rows = try #require(try JSONSerialization.jsonObject(with: list.stdoutBytes) as? [[String: Any]])
        return rows.compactMap { $0["id"] as? Int }
    }

    static func info(_ tool: ToolRunner, _ id: Int) throws -> [String: Any] {
        let show = try tool.run(["snap", "show", String(id), "--json"])
        let json = try #require(try JSONSerialization.jsonObject(with: show.stdoutBytes) as? [String: Any])
        return try #require(json["snapshot"] as? [String: Any])
    }

    /// Runs `arguments` and checks that it added exactly one snapshot (a restore also its undo,
    /// first), equal to `export` of the segment right after it, made by that process; returns its id.
    @discardableResult
    static func expectOneRecorded(_ tool: ToolRunner, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> Int? {
        let before = try ids(tool)
        let result = try tool.run(arguments)
        #expect(result.status == 0, "\(arguments): \(result.stderr)", sourceLocation: sourceLocation)
        let added = try ids(tool).filter { !before.contains($0) }
        let undo = arguments.starts(with: ["snap", "restore"]) ? 1 : 0
        #expect(added.count == 1 + undo, "\(arguments) added \(added)", sourceLocation: sourceLocation)
        guard added.count == 1 + undo, let id = added.last else { return nil }
        #expect(result.stderr.contains("[info] recorded as snapshot \(id)"), "\(result.stderr)", sourceLocation: sourceLocation)
        let stored = try tool.run(["snap", "export", String(id), "-"]).stdoutBytes
        let live = try tool.run(["export", "-", "--no-record"]).stdoutBytes
        #expect(!stored.isEmpty && stored == live, "\(arguments): snapshot \(id) is not the segment", sourceLocation: sourceLocation)
        let provenance = try #require(try info(tool, id)["provenance"] as? [String: Any], sourceLocation: sourceLocation)
        #expect(provenance["pid"] as? Int == Int(result.pid), sourceLocation: sourceLocation)
        #expect(provenance["uid"] as? Int == Int(getuid()), sourceLocation: sourceLocation)
        #expect((provenance["command"] as? String)?.hasPrefix("bpftimetool " + arguments[0]) == true, sourceLocation: sourceLocation)
        #expect((provenance["tool_version"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
        return id
    }

    @Test func everyChangingCommandRecordsExactlyTheStateItLeaves() throws {
        try Self.withTool { tool in
            try Self.expectOneRecorded(tool, ["import", Self.demoState])
            try Self.expectOneRecorded(tool, ["load", "20", Self.queueMap])
            try Self.expectOneRecorded(tool, ["map", "update", "3", "02000000", "0900000000000000"])
            try Self.expectOneRecorded(tool, ["map", "delete", "3", "02000000"])
            try Self.expectOneRecorded(tool, ["map", "push", "20", "2a000000"])
            try Self.expectOneRecorded(tool, ["map", "push", "20", "2b000000"])
            try Self.expectOneRecorded(tool, ["map", "pop", "20"])
            try Self.expectOneRecorded(tool, ["aot", "compile", "5"])
            try Self.expectOneRecorded(tool, ["unload", "7"])
            let restored = try #require(try Self.expectOneRecorded(tool, ["snap", "restore", "1"]))
            let provenance = try #require(try Self.info(tool, restored)["provenance"] as? [String: Any])
            #expect(provenance["restored_snapshot"] as? Int == 1)
            let undo = try #require(provenance["undo_snapshot"] as? Int)
            #expect(undo == restored - 1)
            #expect(try Self.info(tool, undo)["undo_of"] is [String: Any], "the undo snapshot is the restore's")

            // Nothing changed: no new snapshot, and export says which snapshot holds its state.
            let count = try Self.ids(tool).count
            let export = try tool.run(["export", tool.temporaryFile("same.json").path])
            #expect(export.status == 0)
            #expect(export.stderr.contains("unchanged since snapshot \(restored)"), "\(export.stderr)")
            #expect(try Self.ids(tool).count == count)
            try? FileManager.default.removeItem(at: tool.temporaryFile("same.json"))
        }
    }

    @Test func exportRecordsTheStateItWritesAndSnapExportRecordsNothing() throws {
        try Self.withTool { tool in
            #expect(try tool.run(["import", Self.demoState, "--no-record"]).status == 0)
            let file = tool.temporaryFile("export.json")
            defer { try? FileManager.default.removeItem(at: file) }
            let id = try #require(try Self.expectOneRecorded(tool, ["export", file.path, "--no-data"]))
            #expect(try Self.info(tool, id)["message"] as? String == "export to \(file.path)")
            // The file is the snapshot's state (without the map data asked away).
            let fromSnapshot = tool.temporaryFile("snap.json")
            defer { try? FileManager.default.removeItem(at: fromSnapshot) }
            let snapExport = try tool.run(["snap", "export", String(id), fromSnapshot.path, "--no-data"])
            #expect(snapExport.status == 0)
            #expect(try Data(contentsOf: fromSnapshot) == Data(contentsOf: file))
            #expect(try Self.ids(tool) == [id], "snap export records nothing")
        }
    }

    @Test func optOutsAndFailuresRecordNothing() throws {
        try Self.withTool { tool in
            #expect(try tool.run(["import", Self.demoState]).status == 0)
            let before = try Self.ids(tool)
            #expect(before.count == 1)
            #expect(try tool.run(["map", "update", "3", "02000000", "0100000000000000", "--no-record"]).status == 0)
            for failing in [["unload", "99"], ["unload", "6"], ["map", "update", "3", "0200", "01"], ["load", "3", #"{"type": "epoll_handler"}"#],
                            ["aot", "compile", "3"], ["map", "pop", "3"]] {
                let result = try tool.run(failing)
                #expect(result.status == 1, "\(failing): \(result.stderr)")
            }
            let quiet = tool.adding(["BPFTIME_SNAP_RECORD": "0"])
            #expect(try quiet.run(["unload", "7"]).status == 0)
            #expect(try quiet.run(["export", "-"]).status == 0)
            #expect(try Self.ids(tool) == before)
            #expect(try tool.run(["map", "get", "3", "02000000"]).stdout.contains("(1)"), "the opted-out change was made")
        }
    }

    @Test func aFailedRecordingKeepsTheChangeAndExitsThree() throws {
        try Self.withTool { tool in
            #expect(try tool.run(["import", Self.demoState]).status == 0)
            // A history from a newer schema is refused, and left untouched.
            _ = try shell("/usr/bin/sqlite3", [tool.historyPath, "INSERT INTO schema_migrations (version, name, checksum) VALUES (999, 'future', 'x')"])
            let before = try Data(contentsOf: URL(fileURLWithPath: tool.historyPath))
            let update = try tool.run(["map", "update", "3", "02000000", "0700000000000000"])
            #expect(update.status == 3)
            #expect(update.stderr.contains("[error] the change stands, but it was not recorded in the history"), "\(update.stderr)")
            #expect(update.stderr.contains("newer bpftimetool"))
            #expect(try tool.run(["map", "get", "3", "02000000"]).stdout.contains("(7)"), "the change stands")
            #expect(try Data(contentsOf: URL(fileURLWithPath: tool.historyPath)) == before)

            // A history that cannot be created: the export file is still written.
            let file = tool.temporaryFile("written.json")
            defer { try? FileManager.default.removeItem(at: file) }
            let export = try tool.run(["export", file.path, "--db", "/proc/no-such-dir/h.db"])
            #expect(export.status == 3)
            #expect(export.stderr.contains("\(file.path) is written, but it was not recorded"), "\(export.stderr)")
            #expect(try tool.run(["export", "-", "--no-record"]).stdoutBytes == Data(contentsOf: file))
        }
    }

    /// Two processes change one segment at the same time: each records the state its own change
    /// left (its key holds its value), and read in generation order the states are a history.
    /// With a 400-entry map, changes that start from the latest snapshot are recorded as their
    /// written entries (see RecordedChangeEndToEndTests), the others as the whole state.
    @Test(arguments: [false, true]) func concurrentChangersEachRecordTheirOwnResult(largeMap: Bool) throws {
        try Self.withTool { tool in
            let document = largeMap ? try RecordedChangeEndToEndTests.countersDocument(tool) : Self.demoState
            #expect(try tool.run(["import", document]).status == 0)
            let rounds = 8
            let results = Locked<[(key: String, value: UInt8, pid: Int32, status: Int32, stderr: String)]>([])
            let group = DispatchGroup()
            for key in ["0a000000", "0b000000"] {
                DispatchQueue.global().async(group: group) {
                    for round in 1 ... rounds {
                        let value = UInt8(round)
                        let r = Result { try tool.run(["map", "update", "3", key, String(format: "%02x00000000000000", value)]) }
                        let run = try? r.get()
                        results.mutate {
                            $0.append((key, value, run?.pid ?? 0, run?.status ?? -1, run?.stderr ?? "not started: \(r)"))
                        }
                    }
                }
            }
            group.wait()
            let runs = results.value
            #expect(runs.count == 2 * rounds && runs.allSatisfy { $0.status == 0 },
                    "\(runs.filter { $0.status != 0 }.map { "\($0.key)=\($0.value): status \($0.status): \($0.stderr)" })")

            var states: [(generation: Int, values: [String: UInt8])] = []
            for run in runs {
                let pids = try shell("/usr/bin/sqlite3", [tool.historyPath, "SELECT id || ' ' || generation FROM snapshots WHERE pid = \(run.pid)"])
                    .split(separator: "\n")
                #expect(pids.count == 1, "process \(run.pid) recorded \(pids.count) snapshots")
                guard let line = pids.first else { continue }
                let parts = line.split(separator: " ")
                let values = try Self.mapValues(tool, snapshot: String(parts[0]))
                #expect(values[run.key] == run.value, "snapshot \(parts[0]) of \(run.key) = \(run.value) holds \(values)")
                states.append((Int(parts[1]) ?? 0, values))
            }
            states.sort { $0.generation < $1.generation }
            #expect(Set(states.map(\.generation)).count == states.count, "every snapshot is another state")
            for (a, b) in zip(states, states.dropFirst()) {
                for key in ["0a000000", "0b000000"] {
                    #expect((a.values[key] ?? 0) <= (b.values[key] ?? 0), "generation order is the order of the changes")
                }
            }
        }
    }

    /// Map 3's low value bytes by key, from a snapshot exported as JSON.
    static func mapValues(_ tool: ToolRunner, snapshot: String) throws -> [String: UInt8] {
        let json = try tool.run(["snap", "export", snapshot, "-"]).stdoutBytes
        let document = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        let map = try #require(document["3"] as? [String: Any])
        let data = try #require(map["data"] as? [String: String])
        return data.compactMapValues { UInt8($0.prefix(2), radix: 16) }
    }

    @Test func statusShowsTheHistoryAndTheLastRecordedSnapshot() throws {
        try Self.withTool { tool in
            #expect(try tool.run(["import", Self.demoState]).status == 0)
            #expect(try tool.run(["unload", "7"]).status == 0)
            let status = try tool.run(["status", "--json"])
            let json = try #require(try JSONSerialization.jsonObject(with: status.stdoutBytes) as? [String: Any])
            #expect(json["history"] as? String == tool.historyPath)
            #expect(json["recording"] as? Bool == true)
            let last = try #require(json["last_snapshot"] as? [String: Any])
            #expect(last["id"] as? Int == 2)
            #expect(last["message"] as? String == "unload fd 7")
            let text = try tool.run(["status"]).stdout
            #expect(text.contains("last snapshot: \"2 at "), "\(text)")
            let long = try tool.run(["snap", "list", "--long"]).stdout
            #expect(long.contains("bpftimetool unload 7") && long.contains("USER"), "\(long)")
            let show = try tool.run(["snap", "show", "2"]).stdout
            #expect(show.contains("command: bpftimetool unload 7"), "\(show)")
        }
    }

    /// The README's "who changed fd N" query, through the real sqlite3 shell.
    @Test func readmeQueryNamesWhoChangedAnFD() throws {
        try Self.withTool { tool in
            #expect(try tool.run(["import", Self.demoState]).status == 0)
            #expect(try tool.run(["map", "update", "3", "02000000", "0900000000000000"]).status == 0)
            let unload = try tool.run(["unload", "7"])
            #expect(unload.status == 0)
            let readme = try String(contentsOf: ToolRunner.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
            let section = try #require(readme.components(separatedBy: "### Who changed what").dropFirst().first)
            let query = try #require(section.components(separatedBy: "```sql\n").dropFirst().first?.components(separatedBy: "```").first)
            let rows = try shell("/usr/bin/sqlite3", ["-separator", "|", tool.historyPath, query]).split(separator: "\n").map {
                $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            }
            // fd 7 appeared with the import, and went with the unload; the map update did not touch it.
            #expect(rows.map { $0.count > 4 ? $0[4] : "" } == ["bpftimetool import \(Self.demoState)", "bpftimetool unload 7"], "\(rows)")
            #expect(rows.last?[2] == String(cString: getpwuid(getuid()).pointee.pw_name))
            #expect(rows.last?[3] == String(unload.pid))
        }
    }
}

/// Output of a program run to completion; a failure is a test error.
func shell(_ program: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw ShellError(description: "\(program) \(arguments) exited \(process.terminationStatus)") }
    return String(decoding: data, as: UTF8.self)
}

struct ShellError: Error, CustomStringConvertible { let description: String }

/// A value shared between threads.
final class Locked<Value>: @unchecked Sendable {
    private var stored: Value
    private let lock = NSLock()
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func mutate(_ body: (inout Value) -> Void) { lock.withLock { body(&stored) } }
}

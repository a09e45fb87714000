import Foundation
import Testing

/// Outputs go only where they were meant to, and inputs are bounded by what they can be.
@Suite(.serialized) struct PathSafetyTests {
    static let demoState = ToolRunner.repositoryRoot.appendingPathComponent("Scripts/demo-state.json").path

    static func withImportedTool(_ body: (ToolRunner, URL) throws -> Void) throws {
        let tool = ToolRunner()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("paths_\(tool.segmentName)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer {
            tool.cleanUp()
            try? FileManager.default.removeItem(at: dir)
        }
        #expect(try tool.run(["import", demoState]).status == 0)
        try body(tool, dir)
    }

    static func fileType(_ path: String) -> mode_t {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & S_IFMT : 0
    }

    @Test func exportToAFIFOWritesThroughIt() throws {
        try Self.withImportedTool { tool, dir in
            let fifo = dir.appendingPathComponent("out.fifo").path
            #expect(mkfifo(fifo, 0o600) == 0)
            let reader = Process()
            reader.executableURL = URL(fileURLWithPath: "/bin/cat")
            reader.arguments = [fifo]
            let pipe = Pipe()
            reader.standardOutput = pipe
            try reader.run()
            let result = try tool.run(["export", fifo])
            let received = pipe.fileHandleForReading.readDataToEndOfFile()
            reader.waitUntilExit()
            #expect(result.status == 0, "\(result.stderr)")
            #expect(Self.fileType(fifo) == S_IFIFO, "the FIFO was replaced")
            #expect(String(decoding: received, as: UTF8.self).contains("bpf_map_handler"))
        }
    }

    @Test func exportRefusesTheSegmentItReads() throws {
        try Self.withImportedTool { tool, _ in
            let result = try tool.run(["export", "/dev/shm/\(tool.segmentName)"])
            #expect(result.status != 0)
            #expect(result.stderr.contains("refusing"), "\(result.stderr)")
            #expect(try tool.run(["check"]).status == 0, "the segment was damaged")
        }
    }

    @Test func snapExportRefusesTheDatabaseInUse() throws {
        try Self.withImportedTool { tool, dir in
            let db = dir.appendingPathComponent("h.db").path
            #expect(try tool.run(["snap", "save", "--db", db]).status == 0)
            let result = try tool.run(["snap", "export", "1", db, "--db", db])
            #expect(result.status != 0)
            #expect(result.stderr.contains("snapshot history"), "\(result.stderr)")
            #expect(try tool.run(["snap", "list", "--db", db]).status == 0, "the database was replaced")
        }
    }

    @Test func exportKeepsHardLinksOrRefuses() throws {
        try Self.withImportedTool { tool, dir in
            let first = dir.appendingPathComponent("a.json").path, second = dir.appendingPathComponent("b.json").path
            #expect(FileManager.default.createFile(atPath: first, contents: Data("old".utf8)))
            #expect(link(first, second) == 0)
            let result = try tool.run(["export", first])
            #expect(result.status != 0, "the export broke the hard link silently")
            #expect(result.stderr.contains("hard link"), "\(result.stderr)")
            #expect(try String(contentsOfFile: first, encoding: .utf8) == "old")
        }
    }

    /// Symlinks planted at every temporary name the next pids would pick must not be followed.
    @Test func exportFollowsNoPlantedTemporary() throws {
        try Self.withImportedTool { tool, dir in
            let victim = dir.appendingPathComponent("victim").path
            #expect(FileManager.default.createFile(atPath: victim, contents: Data("precious".utf8)))
            let output = dir.appendingPathComponent("out.json").path
            let lastPID = try String(contentsOfFile: "/proc/sys/kernel/ns_last_pid", encoding: .utf8)
            let last = try #require(Int(lastPID.trimmingCharacters(in: .whitespacesAndNewlines)))
            for pid in last + 1 ... last + 2000 { symlink(victim, "\(output).tmp-\(pid)") }
            let result = try tool.run(["export", output])
            #expect(result.status == 0, "\(result.stderr)")
            let victimText = try String(contentsOfFile: victim, encoding: .utf8)
            #expect(victimText == "precious")
            #expect(Self.fileType(output) == S_IFREG)
        }
    }

    @Test(arguments: [["import"], ["snap", "import"], ["run", "4"]])
    func oversizedInputIsRefused(_ command: [String]) throws {
        let tool = ToolRunner(extraEnvironment: ["BPFTIME_SHM_MEMORY_MB": "1"])
        defer { tool.cleanUp() }
        if command == ["run", "4"] { #expect(try tool.run(["import", Self.demoState]).status == 0) }
        // Sparse: 100 MiB that cost nothing, more than any 1 MiB segment's document or any input.
        let big = tool.temporaryFile("big")
        #expect(FileManager.default.createFile(atPath: big.path, contents: nil))
        #expect(truncate(big.path, 100 << 20) == 0)
        defer { try? FileManager.default.removeItem(at: big) }
        let db = tool.temporaryFile("h.db").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) } }
        let result = try tool.run(command + [big.path] + (command.first == "snap" ? ["--db", db] : []))
        #expect(result.status != 0)
        #expect(result.stderr.contains("larger than"), "\(result.stderr)")
    }

    @Test func importFromDevZeroStops() throws {
        let tool = ToolRunner(extraEnvironment: ["BPFTIME_SHM_MEMORY_MB": "1"])
        defer { tool.cleanUp() }
        let result = try tool.run(["import", "/dev/zero"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("larger than"), "\(result.stderr)")
    }
}

/// bpftool-style global options: `--shm` and `--db` before the subcommand.
@Suite struct LeadingOptionTests {
    @Test func segmentAndDatabaseOptionsMayComeFirst() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        let other = "bpftimetool_lead_\(getpid())_\(UInt32.random(in: 0 ... .max))"
        defer { _ = try? tool.run(["remove", "--shm", other]) }
        #expect(try tool.run(["--shm", other, "import", PathSafetyTests.demoState]).status == 0)
        let listed = try tool.run(["--shm=\(other)", "list"])
        #expect(listed.status == 0 && listed.stdout.contains("demo_counts"), "\(listed.stderr)")
        #expect(try tool.run(["list"]).status != 0, "the default segment was used instead")
        let db = tool.temporaryFile("lead.db").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) } }
        #expect(try tool.run(["--db", db, "--shm", other, "snap", "save"]).status == 0)
        #expect(try tool.run(["--db", db, "snap", "list"]).stdout.contains(other))
    }
}

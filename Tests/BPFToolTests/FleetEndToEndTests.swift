import Foundation
import TestSupport
import Testing

/// Histories on a real PostgreSQL server (a private cluster this test run starts) and push/pull
/// between stores, through the real executable, as a fleet's hosts would use them.
@Suite(.serialized) struct FleetEndToEndTests {
    static func cluster() throws -> PostgresCluster { try PostgresCluster.shared.get() }

    /// A tool on host `host` with its own segment and SQLite history, the demo state imported and
    /// saved twice (tag `base`, then key 01000000 set to `value`).
    static func host(_ host: String, value: UInt8 = 7) throws -> ToolRunner {
        let tool = ToolRunner(extraEnvironment: ["BPFTIME_HOST": host, "BPFTIME_SNAP_RECORD": "0"])
        #expect(try tool.run(["import", SnapshotEndToEndTests.demoState]).status == 0)
        #expect(try tool.run(["snap", "save", "-m", "first", "--tag", "base"]).stdout == "1\n")
        #expect(try tool.run(["map", "update", "3", "01000000", String(format: "%02x00000000000000", value)]).status == 0)
        #expect(try tool.run(["snap", "save", "-m", "second"]).stdout == "2\n")
        return tool
    }

    static func lines(_ text: String) -> [String] { text.split(separator: "\n").map(String.init) }

    @Test func pushToPostgresThenPullBackGivesTheSameAnswers() throws {
        let url = try Self.cluster().newDatabase()
        let alpha = try Self.host("alpha")
        defer { alpha.cleanUp() }
        let first = try alpha.run(["snap", "push", url])
        #expect(first.status == 0, "\(first.stderr)")
        let pushed = Self.lines(first.stdout)
        #expect(pushed.count == 2 && pushed[0].hasPrefix("pushed snapshot 1 as 1 (") && pushed[1].hasPrefix("pushed snapshot 2 as 2 ("), "\(pushed)")
        let again = try alpha.run(["snap", "push", url])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(Self.lines(again.stdout) == ["snapshot 1 is already there as 1", "snapshot 2 is already there as 2"])

        // The same list on both engines.
        let local = try alpha.run(["snap", "list", "--long"]).stdout
        let remote = try alpha.run(["snap", "list", "--long", "--db", url])
        #expect(remote.status == 0, "\(remote.stderr)")
        #expect(remote.stdout == local)
        #expect(Self.lines(try alpha.run(["snap", "list", "--db", url, "--host", "alpha", "--segment", alpha.segmentName]).stdout).count == 3)
        #expect(Self.lines(try alpha.run(["snap", "list", "--db", url, "--host", "beta"]).stdout).count == 1)

        // Read on PostgreSQL (the same reader of map contents), they show, diff and export the same.
        #expect(try alpha.run(["snap", "show", "base", "--db", url]).stdout == alpha.run(["snap", "show", "base"]).stdout)
        #expect(try alpha.run(["snap", "diff", "1", "alpha:latest", "--db", url]).stdout == alpha.run(["snap", "diff", "1", "2"]).stdout)
        let e = alpha.temporaryFile("e.json"), f = alpha.temporaryFile("f.json")
        #expect(try alpha.run(["snap", "export", "latest", e.path]).status == 0)
        #expect(try alpha.run(["snap", "export", "latest", f.path, "--db", url]).status == 0)
        #expect(try Data(contentsOf: e) == Data(contentsOf: f))
        // Remotes are each host's own: a shared database would show their passwords to every host.
        for command in [["add", "x", "/tmp/x.db"], ["rm", "x"], ["list"]] {
            let refused = try alpha.run(["snap", "remote"] + command + ["--db", url])
            #expect(refused.status == 1 && refused.stderr.contains("remotes are kept in a host's own SQLite history"), "\(command): \(refused.stderr)")
        }

        // Pulled into a new SQLite history, a snapshot exports, shows and diffs as the original.
        let copy = alpha.temporaryFile("pulled.db").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: copy + suffix) } }
        let pulled = try alpha.run(["snap", "pull", url, "--db", copy])
        #expect(pulled.status == 0, "\(pulled.stderr)")
        #expect(try alpha.run(["snap", "diff", "1", "2", "--db", copy]).stdout == alpha.run(["snap", "diff", "1", "2"]).stdout)
        #expect(try alpha.run(["snap", "show", "base", "--db", copy]).stdout == alpha.run(["snap", "show", "base"]).stdout)
        let a = alpha.temporaryFile("a.json"), b = alpha.temporaryFile("b.json")
        #expect(try alpha.run(["snap", "export", "2", a.path]).status == 0)
        #expect(try alpha.run(["snap", "export", "alpha:latest", b.path, "--db", copy]).status == 0)
        #expect(try Data(contentsOf: a) == Data(contentsOf: b))
        // Pulling again is a no-op, and so is pushing the pulled copy back.
        #expect(Self.lines(try alpha.run(["snap", "pull", url, "--db", copy]).stdout).allSatisfy { $0.contains("already there") })
        #expect(Self.lines(try alpha.run(["snap", "push", url, "--db", copy]).stdout).allSatisfy { $0.contains("already there") })
    }

    @Test func hostsShareContentAndDiffAcrossTheFleet() throws {
        let cluster = try Self.cluster()
        let url = try cluster.newDatabase()
        let alpha = try Self.host("alpha", value: 7), beta = try Self.host("beta", value: 9)
        defer { alpha.cleanUp(); beta.cleanUp() }
        #expect(try alpha.run(["snap", "remote", "add", "fleet", url]).status == 0)
        let remotes = try alpha.run(["snap", "remote", "list"]).stdout
        #expect(remotes.contains("fleet") && !remotes.contains(cluster.password), "\(remotes)")
        #expect(try alpha.run(["snap", "push", "fleet"]).status == 0)
        let second = try beta.run(["snap", "push", url])
        #expect(second.status == 0, "\(second.stderr)")
        // Beta's first snapshot is alpha's state: its content is already there.
        #expect(Self.lines(second.stdout).first?.hasSuffix("(0 bytes of content)") == true, "\(second.stdout)")
        #expect(try cluster.psql("SELECT count(*) FROM blobs", url: url) == "2\n")
        // Beta's tag `base` is kept as beta/base: alpha took `base` first.
        #expect(try cluster.psql("SELECT name FROM tags ORDER BY name", url: url) == "base\nbeta/base\n")

        let diff = try alpha.run(["snap", "pull", "fleet", "beta:latest", "beta:base"])
        #expect(diff.status == 0, "\(diff.stderr)")
        let across = try alpha.run(["snap", "diff", "alpha:latest", "beta:latest", "--stat"])
        #expect(across.status == 1, "\(across.stderr)")
        #expect(across.stdout.contains("fd 3"), "\(across.stdout)")
        let keys = try alpha.run(["snap", "diff", "alpha:latest", "beta:base"])
        #expect(keys.stdout.contains("01000000"), "\(keys.stdout)")
        #expect(try alpha.run(["snap", "remote", "rm", "fleet"]).status == 0)
        #expect(try alpha.run(["snap", "remote", "rm", "fleet"]).status != 0)
    }

    @Test func eightHostsPushAtOnce() throws {
        let cluster = try Self.cluster()
        let url = try cluster.newDatabase()
        let hosts = try (0 ..< 8).map { try Self.host("host\($0)", value: UInt8($0 + 1)) }
        defer { hosts.forEach { $0.cleanUp() } }
        let pushes = try hosts.map { try $0.start(["snap", "push", url]) }
        for push in pushes {
            push.waitUntilExit()
            #expect(push.terminationStatus == 0)
        }
        #expect(try cluster.psql("SELECT count(*) FROM snapshots", url: url) == "16\n")
        #expect(try cluster.psql("SELECT count(DISTINCT host) FROM snapshots", url: url) == "8\n")
        // Shared content stored once: two programs, and the first snapshots' identical states.
        #expect(try cluster.psql("SELECT count(*) FROM blobs", url: url) == "2\n")
        #expect(try cluster.psql("SELECT count(DISTINCT state) FROM snapshot_handlers h JOIN snapshots s ON s.id = h.snapshot WHERE s.message = 'first'", url: url) == "5\n")
        #expect(try cluster.psql("SELECT value_hex FROM map_entries e JOIN snapshots s ON s.id = e.snapshot WHERE s.host = 'host5' AND s.message = 'second' AND e.key_hex = '01000000'", url: url) == "0600000000000000\n")
        let copy = hosts[0].temporaryFile("fleet.db").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: copy + suffix) } }
        #expect(try hosts[0].run(["snap", "pull", url, "host3:latest", "host4:latest", "--db", copy]).status == 0)
        let diff = try hosts[0].run(["snap", "diff", "host3:latest", "host4:latest", "--db", copy])
        #expect(diff.stdout.contains("0400000000000000") && diff.stdout.contains("0500000000000000"), "\(diff.stdout)")
    }

    @Test func killedPushLeavesWholeSnapshotsAndResumes() throws {
        let cluster = try Self.cluster()
        let url = try cluster.newDatabase()
        let tool = try Self.twoBigSnapshots()
        defer { tool.cleanUp() }
        let push = try tool.start(["snap", "push", url])
        usleep(700_000)
        kill(push.processIdentifier, SIGKILL)
        push.waitUntilExit()
        try Self.expectWholeSnapshotsThenResume(tool, cluster, url)
    }

    /// A host whose history holds two snapshots of a 100,000-entry map, one entry apart.
    static func twoBigSnapshots() throws -> ToolRunner {
        let tool = ToolRunner(extraEnvironment: ["BPFTIME_HOST": "big", "BPFTIME_SNAP_RECORD": "0"])
        let state = tool.temporaryFile("big.json", contents: Data(bigState(entries: 100_000).utf8))
        #expect(try tool.run(["import", state.path]).status == 0)
        for (value, message) in ["one", "two"].enumerated() {
            #expect(try tool.run(["map", "update", "3", "00000001", String(format: "%016x", value + 100)]).status == 0)
            #expect(try tool.run(["snap", "save", "-m", message]).status == 0)
        }
        return tool
    }

    /// After an interrupted push of `twoBigSnapshots`: whatever arrived is whole (every snapshot
    /// there has all its entries; interrupted before its schema was committed, the database has
    /// no tables at all), and pushing again sends what is left.
    static func expectWholeSnapshotsThenResume(_ tool: ToolRunner, _ cluster: PostgresCluster, _ url: String) throws {
        if try cluster.psql("SELECT to_regclass('public.snapshots') IS NOT NULL", url: url) == "t\n" {
            for row in lines(try cluster.psql("SELECT count(*) FROM map_entries GROUP BY snapshot", url: url)) {
                #expect(row == "100000", "a partial snapshot: \(row) entries")
            }
        }
        let again = try tool.run(["snap", "push", url])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try cluster.psql("SELECT count(*) FROM snapshots", url: url) == "2\n")
        #expect(try cluster.psql("SELECT count(*) FROM map_entries", url: url) == "200000\n")
    }

    @Test func serverStoppedMidPushLeavesWholeSnapshotsAndARePushResumes() throws {
        // A cluster of its own: this test stops it.
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let url = try cluster.newDatabase()
        let database = String(url.split(separator: "/").last ?? "")
        let tool = try Self.twoBigSnapshots()
        defer { tool.cleanUp() }
        let errors = tool.temporaryFile("push.err")
        let push = try tool.start(["snap", "push", url], errors: errors)
        // Stopped while the push copies map entries into the server.
        var copying = false
        for _ in 0 ..< 600 where !copying && push.isRunning {
            copying = try cluster.superuser("SELECT count(*) FROM pg_stat_activity WHERE datname = '\(database)' AND query LIKE 'COPY%'") != "0\n"
            if !copying { usleep(20_000) }
        }
        #expect(copying, "the push ended before it copied anything")
        try cluster.halt()
        push.waitUntilExit()
        let stderr = try String(contentsOf: errors, encoding: .utf8)
        #expect(push.terminationStatus == 1, "\(stderr)")
        #expect(stderr.contains("127.0.0.1:\(cluster.port)") && !stderr.contains(cluster.password) && !stderr.contains("Fatal error"), "\(stderr)")
        try cluster.start()
        try Self.expectWholeSnapshotsThenResume(tool, cluster, url)
    }

    @Test func wrongPasswordNewerSchemaAndNoPasswordInLogs() throws {
        let cluster = try Self.cluster()
        let url = try cluster.newDatabase()
        let tool = try Self.host("alpha").adding(["SPDLOG_LEVEL": "trace"])
        defer { tool.cleanUp() }
        let wrong = url.replacingOccurrences(of: cluster.password, with: "Wr0ng-pw-777")
        let refused = try tool.run(["snap", "push", wrong])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("password authentication failed"), "\(refused.stderr)")
        #expect(!refused.stderr.contains("Wr0ng-pw-777") && !refused.stdout.contains("Wr0ng-pw-777"))
        let pushed = try tool.run(["snap", "push", url])
        #expect(pushed.status == 0)
        #expect(!pushed.stderr.contains(cluster.password) && !pushed.stdout.contains(cluster.password), "\(pushed.stderr)")
        let listed = try tool.run(["snap", "list", "--long", "--db", url])
        #expect(!listed.stdout.contains(cluster.password))

        try cluster.superuser("INSERT INTO schema_migrations (version, name, checksum) VALUES (999, 'future', 'x')",
                              database: String(url.split(separator: "/").last!))
        let newer = try tool.run(["snap", "list", "--db", url])
        #expect(newer.status != 0)
        #expect(newer.stderr.contains("newer bpftimetool") && newer.stderr.contains("999"), "\(newer.stderr)")
        #expect(!newer.stderr.contains(cluster.password))
    }

    @Test func tlsWhenTheURLAsksForIt() throws {
        let cluster = try PostgresCluster(tls: true)
        defer { cluster.stop() }
        let tool = try Self.host("alpha")
        defer { tool.cleanUp() }
        // The server takes TLS connections only.
        let plain = try tool.run(["snap", "push", cluster.url(query: "sslmode=disable")])
        #expect(plain.status != 0)
        let secure = try tool.run(["snap", "push", cluster.url(query: "sslmode=require")])
        #expect(secure.status == 0, "\(secure.stderr)")
        #expect(try cluster.psql("SELECT count(*) FROM snapshots", url: cluster.url(query: "sslmode=require")) == "2\n")
    }

    @Test func readmeQueriesAnswerTheSameOnBothEngines() throws {
        let cluster = try Self.cluster()
        let url = try cluster.newDatabase()
        // The README's history: the demo state tagged base, then key 1 counted to 7, key 2 added, fd 7 removed.
        let tool = ToolRunner(extraEnvironment: ["BPFTIME_SNAP_RECORD": "0"])
        defer { tool.cleanUp() }
        #expect(try tool.run(["import", SnapshotEndToEndTests.demoState]).status == 0)
        #expect(try tool.run(["snap", "save", "-m", "first", "--tag", "base"]).status == 0)
        #expect(try tool.run(["map", "update", "3", "01000000", "0700000000000000"]).status == 0)
        #expect(try tool.run(["map", "update", "3", "02000000", "0300000000000000"]).status == 0)
        #expect(try tool.run(["unload", "7"]).status == 0)
        #expect(try tool.run(["snap", "save", "-m", "second"]).status == 0)
        #expect(try tool.run(["snap", "push", url]).status == 0)
        let readme = try String(contentsOf: ToolRunner.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let section = readme.components(separatedBy: "### Example queries").dropFirst().first?.components(separatedBy: "\n##").first ?? ""
        let queries = section.components(separatedBy: "```sql\n").dropFirst().compactMap { $0.components(separatedBy: "```").first }
        #expect(queries.count >= 10)
        // The applied migrations are each engine's own.
        for query in queries where !query.contains("schema_migrations") {
            let sqlite = try PostgresCluster.run(["sqlite3", tool.historyPath, query])
            let postgres = try cluster.psql(query, url: url)
            #expect(postgres == sqlite, "\(query)")
            #expect(!sqlite.isEmpty || query.contains("restores"), "\(query) answered nothing")
        }
    }

    /// The demo state with a hash map of `entries` entries at fd 3 (4-byte keys, 8-byte values):
    /// key i holds i, plus `offset` from key `changedFrom` on.
    static func bigState(entries: Int, changedFrom: Int = .max, offset: Int = 0) -> String {
        var data = ""
        data.reserveCapacity(entries * 40)
        for i in 0 ..< entries {
            data += (i == 0 ? "" : ",") + "\"" + String(format: "%08x", i) + "\":\"" + String(format: "%016x", i + (i >= changedFrom ? offset : 0)) + "\""
        }
        return """
            {"3": {"attr": {"btf_id": 0, "btf_key_type_id": 0, "btf_value_type_id": 0, "btf_vmlinux_value_type_id": 0, \
            "flags": 0, "ifindex": 0, "key_size": 4, "kernel_bpf_map_id": 0, "map_extra": 0, "map_type": 1, \
            "max_entries": \(entries + 10), "value_size": 8}, "data": {\(data)}, "name": "big", "type": "bpf_map_handler"}}
            """
    }
}

extension ToolRunner {
    /// Starts the tool without waiting (its output discarded).
    /// Starts the tool in the background; its stderr goes to `errors` when given.
    func start(_ arguments: [String], errors: URL? = nil) throws -> Process {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try errors.map { url in
            _ = FileManager.default.createFile(atPath: url.path, contents: nil)
            return try FileHandle(forWritingTo: url)
        } ?? FileHandle.nullDevice
        try process.run()
        return process
    }
}

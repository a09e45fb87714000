import Foundation
import TestSupport
import Testing

/// What keeps a push and a fleet listing fast on PostgreSQL, checked by what the server is asked
/// (statements logged, plans) rather than by the clock, which other builds on the machine skew.
@Suite(.serialized) struct FleetSpeedEndToEndTests {
    typealias Fleet = FleetEndToEndTests

    /// The statements the server logs for `database` while `body` runs (`log_statement = all`
    /// for that database only).
    static func statements(_ cluster: PostgresCluster, database: String, during body: () throws -> Void) throws -> [String] {
        try cluster.superuser("ALTER DATABASE \(database) SET log_statement = 'all'")
        let log = cluster.directory.appendingPathComponent("server.log")
        let before = try Data(contentsOf: log).count
        try body()
        let after = try Data(contentsOf: log)
        return String(decoding: after[before...], as: UTF8.self).split(separator: "\n")
            .filter { $0.contains("LOG:  statement: ") || $0.contains("LOG:  execute ") }.map(String.init)
    }

    /// A new database, migrated (so that a push runs only its own statements), and a host
    /// holding `twoBigSnapshots` to push into it.
    static func bigHostAndDatabase() throws -> (cluster: PostgresCluster, url: String, database: String, tool: ToolRunner) {
        let cluster = try Fleet.cluster()
        let url = try cluster.newDatabase()
        let tool = try Fleet.twoBigSnapshots()
        #expect(try tool.run(["snap", "list", "--db", url]).status == 0)
        return (cluster, url, String(url.split(separator: "/").last ?? ""), tool)
    }

    @Test func aPushStoresAMapInAFewStatementsNotOnePerChunk() throws {
        let (cluster, url, database, tool) = try Self.bigHostAndDatabase()
        defer { tool.cleanUp() }
        let logged = try Self.statements(cluster, database: database) {
            let push = try tool.run(["snap", "push", url])
            #expect(push.status == 0, "\(push.stderr)")
        }
        // Two snapshots of a 100,000-entry map (about 100 chunks), the second a layer of one change
        // over the first: a statement or three per chunk before, a fixed few per snapshot now,
        // the entries in one COPY.
        #expect(logged.count < 60, "\(logged.count) statements: \(logged.prefix(80))")
        #expect(logged.filter { $0.contains("COPY \"chunk_entries\"") }.count == 1, "\(logged)")
        #expect(try cluster.psql("SELECT count(*) FROM map_entries", url: url) == "200000\n")
        #expect(try cluster.psql("SELECT sum(entry_count) FROM chunks", url: url) == "100000\n")
    }

    @Test func theListCountsHandlersWithoutReadingThem() throws {
        let cluster = try Fleet.cluster()
        let url = try cluster.newDatabase()
        let tool = try Fleet.host("alpha")
        defer { tool.cleanUp() }
        #expect(try tool.run(["snap", "push", url]).status == 0)
        // A handler count per snapshot read from snapshot_handlers was a count per listed row.
        let plan = try cluster.psql("EXPLAIN SELECT * FROM snapshot_list", url: url)
        #expect(!plan.contains("snapshot_handlers"), "\(plan)")
        // Still the right counts (the SQLite history's), for pushed rows and for rows inserted by hand.
        let counts = try PostgresCluster.run(["sqlite3", tool.historyPath, "SELECT handlers FROM snapshot_list ORDER BY id"])
        #expect(Fleet.lines(counts).count == 2)
        #expect(try cluster.psql("SELECT handlers FROM snapshot_list ORDER BY id", url: url) == counts)
        _ = try cluster.psql("""
            INSERT INTO snapshots (created_at, segment_name, host, generation) VALUES ('2026-01-01 00:00:00.000', 's', 'h', 1);
            INSERT INTO snapshot_handlers (snapshot, fd, state) SELECT (SELECT max(id) FROM snapshots), fd, (SELECT min(state) FROM snapshot_handlers)
            FROM generate_series(100, 102) fd
            """, url: url)
        #expect(try cluster.psql("SELECT handlers FROM snapshot_list ORDER BY id", url: url) == counts + "3\n")
        let list = try tool.run(["snap", "list", "--json", "--db", url])
        #expect(list.status == 0, "\(list.stderr)")
        let listed = try #require(try JSONSerialization.jsonObject(with: list.stdoutBytes) as? [[String: Any]])
        #expect(listed.compactMap { $0["handlers"] as? Int }.map(String.init) == Fleet.lines(counts + "3\n"))
    }
}

/// A push stopped while the server makes it wait.
@Suite(.serialized) struct FleetCancelEndToEndTests {
    typealias Fleet = FleetEndToEndTests

    @Test func aPushKilledWhileWaitingOnALockLeavesTheServerAtOnce() throws {
        let (cluster, url, database, tool) = try FleetSpeedEndToEndTests.bigHostAndDatabase()
        defer { tool.cleanUp() }
        // Another session holds chunk_entries for a minute: the push waits inside its
        // transaction, at the COPY of the entries, after inserting rows of other tables.
        let locker = Process()
        locker.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        locker.arguments = ["psql", "-X", "-q", "-d", url, "-c", "BEGIN", "-c", "LOCK TABLE chunk_entries IN ACCESS EXCLUSIVE MODE",
                            "-c", "SELECT pg_sleep(60)", "-c", "COMMIT"]
        locker.standardOutput = FileHandle.nullDevice
        try locker.run()
        defer {
            _ = try? cluster.superuser("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database)'")
            locker.waitUntilExit()
        }
        func waiting() throws -> Int {
            Int(try cluster.superuser("SELECT count(*) FROM pg_stat_activity WHERE datname = '\(database)' AND wait_event_type = 'Lock'")
                .trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        let push = try tool.start(["snap", "push", url])
        var blocked = false
        for _ in 0 ..< 600 where !blocked && push.isRunning {
            blocked = try waiting() > 0
            if !blocked { usleep(50_000) }
        }
        #expect(blocked, "the push never waited on the lock")
        kill(push.processIdentifier, SIGTERM)
        push.waitUntilExit()
        #expect(push.terminationReason == .uncaughtSignal && push.terminationStatus == SIGTERM)
        // The server drops the dead push within seconds, not when the lock comes a minute later.
        let stopped = Date()
        while try waiting() > 0 && Date().timeIntervalSince(stopped) < 10 { usleep(100_000) }
        #expect(try waiting() == 0, "the killed push still waits in the server")
        #expect(Date().timeIntervalSince(stopped) < 5)
        #expect(try cluster.psql("SELECT count(*) FROM snapshots", url: url) == "0\n")
        #expect(try cluster.psql("SELECT count(*) FROM blobs", url: url) == "0\n")
        try cluster.superuser("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database)' AND query LIKE '%pg_sleep%'")
        try Fleet.expectWholeSnapshotsThenResume(tool, cluster, url)
    }
}

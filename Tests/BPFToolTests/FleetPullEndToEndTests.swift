import Foundation
import TestSupport
import Testing

/// `snap pull` from PostgreSQL: a map's lacking chunks read in one ordered query, only what the
/// local history lacks written, and every chunk checked against its hash before anything is.
@Suite(.serialized) struct FleetPullEndToEndTests {
    typealias Fleet = FleetEndToEndTests
    static let entries = 50_000

    /// A new database holding the 50,000-entry map of host `big` (key i holds i), and of hosts
    /// that changed the values from a key on (`half`: 60 % of them, `tail`: another 30 %), and
    /// a local host with no history yet.
    static func fleet() throws -> (cluster: PostgresCluster, url: String, local: ToolRunner) {
        let cluster = try Fleet.cluster()
        let url = try cluster.newDatabase()
        for (host, from, offset) in [("big", Int.max, 0), ("half", entries * 2 / 5, 1), ("tail", entries * 7 / 10, 2)] {
            let tool = ToolRunner(extraEnvironment: ["BPFTIME_HOST": host, "BPFTIME_SNAP_RECORD": "0"])
            defer { tool.cleanUp() }
            let state = tool.temporaryFile("state.json", contents: Data(Fleet.bigState(entries: entries, changedFrom: from, offset: offset).utf8))
            #expect(try tool.run(["import", state.path]).status == 0)
            #expect(try tool.run(["snap", "save"]).status == 0)
            let push = try tool.run(["snap", "push", url])
            #expect(push.status == 0, "\(push.stderr)")
        }
        return (cluster, url, ToolRunner(extraEnvironment: ["BPFTIME_HOST": "local", "BPFTIME_SNAP_RECORD": "0"]))
    }

    static func sqlite(_ tool: ToolRunner, _ sql: String) throws -> String {
        try PostgresCluster.run(["sqlite3", tool.historyPath, sql])
    }

    /// The ids of the chunks of the maps of `hosts`, on the server.
    static func chunks(of hosts: [String]) -> String {
        """
        SELECT c.chunk FROM snapshots s JOIN snapshot_handlers h ON h.snapshot = s.id JOIN handler_states st ON st.id = h.state
        JOIN map_content_chunks c ON c.content = st.map_content WHERE h.fd = 3 AND s.host IN (\(hosts.map { "'\($0)'" }.joined(separator: ", ")))
        """
    }

    /// Entries in the chunks of `host`'s map that no map of `others` has, on the server.
    static func entriesLacking(_ cluster: PostgresCluster, _ url: String, host: String, others: [String]) throws -> Int {
        let sql = "SELECT sum(entry_count) FROM chunks WHERE id IN (\(chunks(of: [host]))) AND id NOT IN (\(chunks(of: others)))"
        return Int(try cluster.psql(sql, url: url).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    /// The map of `reference` exported from the local history and from the server.
    static func expectSameExport(_ local: ToolRunner, _ reference: String, _ url: String) throws {
        let here = local.temporaryFile("here.json"), there = local.temporaryFile("there.json")
        #expect(try local.run(["snap", "export", reference, here.path]).status == 0)
        #expect(try local.run(["snap", "export", reference, there.path, "--db", url]).status == 0)
        #expect(try Data(contentsOf: here) == Data(contentsOf: there), "\(reference) reads back differently")
    }

    @Test func aPullWritesOnlyTheLackingChunksAndReadsAMapInOneQuery() throws {
        let (cluster, url, local) = try Self.fleet()
        defer { local.cleanUp() }
        let database = String(url.split(separator: "/").last ?? "")
        // Into an empty history: every chunk of the map from one ordered query, not one per chunk.
        let logged = try FleetSpeedEndToEndTests.statements(cluster, database: database) {
            let pull = try local.run(["snap", "pull", url, "big:latest"])
            #expect(pull.status == 0, "\(pull.stderr)")
        }
        #expect(logged.filter { $0.contains("chunk_entries") }.count == 1, "\(logged.filter { $0.contains("chunk_entries") })")
        #expect(try Self.sqlite(local, "SELECT count(*) FROM chunk_entries") == "\(Self.entries)\n")

        // Then maps that share their first 40 % and 70 % with it: only the chunks lacking here
        // are sent and written (the larger part streamed, the smaller one chunk by chunk).
        var written = Self.entries
        for (host, pulledBefore) in [("half", ["big"]), ("tail", ["big", "half"])] {
            let lacking = try Self.entriesLacking(cluster, url, host: host, others: pulledBefore)
            #expect(lacking > 0 && lacking < Self.entries, "\(host): \(lacking) entries lacking")
            let pull = try local.run(["snap", "pull", url, "\(host):latest"])
            #expect(pull.status == 0, "\(pull.stderr)")
            #expect(pull.stdout.contains("(\(lacking * 12) bytes of content)"), "\(host): \(pull.stdout)")
            written += lacking
            #expect(try Self.sqlite(local, "SELECT count(*) FROM chunk_entries") == "\(written)\n", "\(host)")
            try Self.expectSameExport(local, "\(host):latest", url)
        }
        // Each chunk stored once, whole.
        #expect(try Self.sqlite(local, "SELECT sum(entry_count) FROM chunks") == "\(written)\n")
        try Self.expectSameExport(local, "big:latest", url)
    }

    @Test func aDamagedChunkFailsThePullAndLeavesTheLocalHistoryAsItWas() throws {
        let (cluster, url, local) = try Self.fleet()
        defer { local.cleanUp() }
        #expect(try local.run(["snap", "pull", url, "big:latest"]).status == 0)
        let before = try Self.sqlite(local, ".dump")
        func chunk(of host: String, notIn other: String) throws -> String {
            try cluster.psql("""
                SELECT id FROM chunks WHERE id IN (\(Self.chunks(of: [host]))) AND id NOT IN (\(Self.chunks(of: [other])))
                ORDER BY id LIMIT 1 OFFSET 3
                """, url: url).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func expectRefused(_ host: String, _ message: String) throws {
            let pull = try local.run(["snap", "pull", url, "\(host):latest"])
            #expect(pull.status == 1 && pull.stderr.contains(message), "\(host): \(pull.status) \(pull.stderr)")
            #expect(try Self.sqlite(local, ".dump") == before, "the failed pull of \(host) changed the local history")
        }
        // Streamed (most of `half` is lacking) and read chunk by chunk (`tail`, 30 %), one value
        // changed in a chunk the local history lacks: its hash no longer matches.
        for host in ["half", "tail"] {
            let damaged = try chunk(of: host, notIn: "big")
            #expect(!damaged.isEmpty)
            let key = "(SELECT key FROM chunk_entries WHERE chunk = \(damaged) ORDER BY key LIMIT 1)"
            _ = try cluster.psql("UPDATE chunk_entries SET value = set_byte(value, 0, (get_byte(value, 0) + 1) % 256) WHERE chunk = \(damaged) AND key = \(key)", url: url)
            try expectRefused(host, "does not match its hash")
            _ = try cluster.psql("UPDATE chunk_entries SET value = set_byte(value, 0, (get_byte(value, 0) + 255) % 256) WHERE chunk = \(damaged) AND key = \(key)", url: url)
        }
        // A chunk that lost a row: fewer entries than recorded, streamed or not.
        for (host, message) in [("half", "hold fewer entries than their chunks record"), ("tail", "does not match its hash")] {
            let truncated = try chunk(of: host, notIn: "big")
            let row = try cluster.psql("""
                DELETE FROM chunk_entries WHERE chunk = \(truncated) AND key = (SELECT key FROM chunk_entries WHERE chunk = \(truncated) ORDER BY key DESC LIMIT 1)
                RETURNING encode(key, 'hex') || ',' || encode(value, 'hex')
                """, url: url).trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",").map(String.init)
            #expect(row.count == 2)
            try expectRefused(host, message)
            _ = try cluster.psql("INSERT INTO chunk_entries (chunk, key, value) VALUES (\(truncated), decode('\(row[0])', 'hex'), decode('\(row[1])', 'hex'))", url: url)
        }
        // Repaired, both pull and read back as on the server.
        for host in ["half", "tail"] {
            let pull = try local.run(["snap", "pull", url, "\(host):latest"])
            #expect(pull.status == 0, "\(pull.stderr)")
            try Self.expectSameExport(local, "\(host):latest", url)
        }
    }
}

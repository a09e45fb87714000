import Foundation
import TestSupport
import Testing

/// `snap log --fd/--key`, `prune`, `gc`, `du` and `watch` on a PostgreSQL history: the same
/// commands on a host's SQLite history and on a new PostgreSQL database, outputs compared where
/// the engines store alike (a SQLite save writes a changed map as a layer, a PostgreSQL save as
/// chunks, so byte counts differ by design).
@Suite(.serialized) struct FleetTidyEndToEndTests {
    static func lines(_ text: String) -> [String] { text.split(separator: "\n").map(String.init) }

    static func json(_ result: ToolRunner.Result) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: result.stdoutBytes) as? [String: Any], "\(result.stderr)")
    }

    /// A layered contents' base and layers are foreign keys on PostgreSQL (`postgres/0004`): a
    /// dangling one is refused, and a gc of pushed layered contents deletes in an order they allow.
    @Test func danglingLayerReferencesAreRefusedAndGcKeepsThemWhole() throws {
        let host = try FleetHost()
        defer { host.cleanUp() }
        let (cluster, url, tool) = (host.cluster, host.url, host.tool)
        // Eight entries, then one changed: the second save is a layer over the first (SQLite).
        for key in 2 ... 8 { #expect(try tool.run(["map", "update", "3", String(format: "%02x000000", key), "0100000000000000"]).status == 0) }
        #expect(try tool.run(["snap", "save", "-m", "base"]).status == 0)
        #expect(try tool.run(["map", "update", "3", "05000000", "0900000000000000"]).status == 0)
        #expect(try tool.run(["snap", "save", "-m", "layer"]).status == 0)
        #expect(try tool.run(["snap", "push", url]).status == 0)
        let layered = try cluster.psql("SELECT id, base FROM map_contents WHERE base IS NOT NULL", url: url)
        let ids = layered.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "|").map(String.init)
        try #require(ids.count == 2, "the pushed layer: \(layered)")

        let refusals = [
            ("INSERT INTO map_contents (hash, key_size, value_size, values_per_entry, entry_count, base) VALUES ('\\x01', 4, 8, 1, 0, 424242)",
             "map_contents_base_fkey"),
            ("INSERT INTO map_content_layers (content, depth, layer) VALUES (\(ids[0]), 99, 424242)", "map_content_layers_layer_fkey"),
            ("UPDATE map_content_layers SET layer = 424242 WHERE content = \(ids[0])", "map_content_layers_layer_fkey"),
        ]
        for (sql, constraint) in refusals {
            do {
                _ = try cluster.psql(sql, url: url)
                Issue.record("taken: \(sql)")
            } catch {
                #expect("\(error)".contains("violates foreign key constraint \"\(constraint)\""), "\(sql): \(error)")
            }
        }
        // The same statements with references that hold are taken.
        #expect(try cluster.psql("INSERT INTO map_content_layers (content, depth, layer) VALUES (\(ids[0]), 99, \(ids[1]))", url: url) == "")
        #expect(try cluster.psql("DELETE FROM map_content_layers WHERE depth = 99", url: url) == "")

        // Removing the layered snapshot, then the base, and collecting each time: gc deletes
        // layers before the contents they name.
        #expect(try tool.run(["snap", "rm", "2", "--db", url]).status == 0)
        let first = try tool.run(["snap", "gc", "--db", url])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try cluster.psql("SELECT count(*) FROM map_contents WHERE base IS NOT NULL", url: url) == "0\n")
        #expect(try cluster.psql("SELECT count(*) FROM map_content_layers", url: url) == "0\n")
        #expect(try tool.run(["snap", "export", "1", "-", "--db", url]).stdout.contains("08000000"), "the base reads whole")
        #expect(try tool.run(["snap", "rm", "1", "--db", url]).status == 0)
        #expect(try tool.run(["snap", "gc", "--db", url]).status == 0)
        #expect(try cluster.psql("SELECT count(*) FROM map_contents", url: url) == "0\n")
    }

    @Test func logPruneGcAndDuWorkOnPostgreSQLAsOnSQLite() throws {
        let host = try FleetHost()
        defer { host.cleanUp() }
        let (cluster, url, tool) = (host.cluster, host.url, host.tool)
        try host.same(["snap", "save", "-m", "first", "--tag", "base"])
        for value in ["07", "08", "09"] {
            #expect(try tool.run(["map", "update", "3", "01000000", value + "00000000000000"]).status == 0)
            try host.same(["snap", "save", "-m", "value \(value)"])
        }
        #expect(try tool.run(["map", "delete", "3", "01000000"]).status == 0)
        try host.same(["snap", "save", "-m", "deleted"])

        // One handler's and one key's history.
        try host.same(["snap", "log", "--fd", "3"])
        try host.same(["snap", "log", "--fd", "3", "--json"])
        try host.same(["snap", "log", "--fd", "3", "--key", "01000000"])
        try host.same(["snap", "log", "--fd", "3", "--key", "01000000", "-n", "2", "--json"])
        try host.same(["snap", "log", "--fd", "3", "--key", "01"], status: 1)
        #expect(Self.lines(try tool.run(["snap", "log", "--fd", "3", "--key", "01000000", "--db", url]).stdout).count == 5)

        // Retention: the same decisions, then the same snapshots left.
        try host.same(["snap", "prune", "--keep-last", "2", "--dry-run"])
        try host.same(["snap", "prune", "--keep-last", "2", "--json", "--dry-run"])
        try host.same(["snap", "prune", "--keep-last", "2"])
        try host.same(["snap", "list"])

        // gc deletes the content only the pruned snapshots used, in one transaction; what is
        // left reads back as on SQLite, and a second gc finds nothing.
        let unused = """
            SELECT (SELECT count(*) FROM handler_states WHERE id NOT IN (SELECT state FROM snapshot_handlers))
                 + (SELECT count(*) FROM chunks WHERE id NOT IN (SELECT chunk FROM map_content_chunks))
                 + (SELECT count(*) FROM map_contents WHERE id NOT IN (SELECT map_content FROM handler_states WHERE map_content IS NOT NULL))
            """
        #expect(try cluster.psql(unused, url: url) != "0\n")
        let (sqliteGC, postgresGC) = try host.both(["snap", "gc"])
        #expect(sqliteGC.status == 0, "\(sqliteGC.stderr)")
        #expect(postgresGC.status == 0, "\(postgresGC.stderr)")
        #expect(postgresGC.stdout.range(of: #"^dropped 0 blobs and [1-9][0-9]* map chunks; tables [0-9.]+ [KM]?i?B → [0-9.]+ [KM]?i?B \([0-9]+ → [0-9]+ bytes\)\n$"#,
                                        options: .regularExpression) != nil, "\(postgresGC.stdout)")
        #expect(try cluster.psql(unused, url: url) == "0\n")
        for reference in ["base", "latest", "latest~1"] {
            let a = tool.temporaryFile("sqlite-\(reference).json"), b = tool.temporaryFile("postgres-\(reference).json")
            #expect(try tool.run(["snap", "export", reference, a.path]).status == 0)
            #expect(try tool.run(["snap", "export", reference, b.path, "--db", url]).status == 0)
            #expect(try Data(contentsOf: a) == Data(contentsOf: b), "\(reference)")
        }
        #expect(try tool.run(["snap", "gc", "--db", url]).stdout.hasPrefix("dropped 0 blobs and 0 map chunks; tables "))

        // du: the same segments and maps, each engine's own measure of its space.
        let sqliteDU = try Self.json(tool.run(["snap", "du", "--json"]))
        let postgresDU = try Self.json(tool.run(["snap", "du", "--json", "--db", url]))
        func outline(_ du: [String: Any]) -> [String] {
            ((du["segments"] as? [[String: Any]]) ?? []).map { "\($0["name"] ?? "") \($0["snapshots"] ?? "")" }
                + ((du["maps"] as? [[String: Any]]) ?? []).map { "\($0["segment"] ?? "") \($0["fd"] ?? "") \($0["name"] ?? "") \($0["contents"] ?? "")" }
        }
        #expect(outline(postgresDU) == outline(sqliteDU))
        #expect(outline(postgresDU).contains("\(tool.segmentName) 3"), "\(outline(postgresDU))")
        #expect(postgresDU["tables_bytes"] as? Int ?? 0 > 0 && postgresDU["free_bytes"] is NSNull, "\(postgresDU)")
        let text = try tool.run(["snap", "du", "--db", url])
        #expect(text.status == 0 && text.stdout.hasPrefix("tables: ") && text.stdout.contains("demo_counts"), "\(text.stdout)")
    }

    @Test func watchRecordsIntoPostgreSQLAndPrunesThere() throws {
        let host = try FleetHost()
        defer { host.cleanUp() }
        let (cluster, url, tool) = (host.cluster, host.url, host.tool)
        let errors = tool.temporaryFile("watch.log")
        let process = try tool.adding(["SPDLOG_LEVEL": "info"])
            .start(["snap", "watch", "--interval", "200ms", "--keep-last", "2", "--db", url], errors: errors)
        defer { if process.isRunning { process.terminate() } }
        func waitForSnapshots(_ count: Int) throws {
            for _ in 0 ..< 100 {
                if Self.lines(try tool.run(["snap", "list", "--db", url]).stdout).count > count { return }
                usleep(100_000)
            }
        }
        try waitForSnapshots(1)
        #expect(try tool.run(["map", "update", "3", "01000000", "0900000000000000"]).status == 0)
        try waitForSnapshots(2)
        #expect(try tool.run(["map", "update", "3", "01000000", "0a00000000000000"]).status == 0)
        var waited = 0
        while !(try tool.run(["snap", "list", "--db", url]).stdout.contains("\n3 ")), waited < 100 {
            usleep(100_000)
            waited += 1
        }
        usleep(500_000)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        let log = try String(contentsOf: errors, encoding: .utf8)
        #expect(process.terminationStatus == 0, "\(log)")
        #expect(Self.lines(log).filter { $0.contains("[info] snapshot ") }.count == 3, "\(log)")
        #expect(log.contains("pruned snapshots 1") && log.contains("stopped watching"), "\(log)")
        #expect(!log.contains(cluster.password))
        // Kept: the newest two, on the server.
        #expect(Self.lines(try tool.run(["snap", "list", "--db", url]).stdout).dropFirst().map { String($0.split(separator: " ")[0]) } == ["2", "3"])
    }
}

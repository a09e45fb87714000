import Foundation
import TestSupport
import Testing

/// The snap commands on a PostgreSQL history print what they print on SQLite: the same
/// commands run against a host's SQLite history and a new PostgreSQL database, outputs compared.
@Suite(.serialized) struct FleetCommandsEndToEndTests {
    @Test func saveTagRemoveAndImportPrintTheSameOnBothEngines() throws {
        let host = try FleetHost()
        defer { host.cleanUp() }
        let (tool, url) = (host.tool, host.url)
        try host.same(["snap", "save", "-m", "first", "--tag", "base"])
        // Unchanged: nothing saved on either.
        try host.same(["snap", "save", "--if-changed"])
        #expect(try tool.run(["map", "update", "3", "01000000", "0700000000000000"]).status == 0)
        try host.same(["snap", "save", "--if-changed", "-m", "second"])
        try host.same(["snap", "save", "-m", "third", "--tag", "base"], status: 1)
        try host.same(["snap", "tag", "2", "second"])
        try host.same(["snap", "tag", "1", "second"], status: 1)
        try host.same(["snap", "tag", "-f", "1", "second"])
        try host.same(["snap", "tag", "-d", "base"])
        try host.same(["snap", "tag", "-d", "base"], status: 1)
        // Reads: the one reader of map contents, on both engines.
        try host.same(["snap", "log"])
        try host.same(["snap", "log", "--json"])
        try host.same(["snap", "diff", "1", "2"], status: 1)
        try host.same(["snap", "diff", "1", "live", "--stat"], status: 1)
        try host.same(["snap", "diff", "live", "alpha:latest"])
        try host.same(["snap", "restore", "1", "--dry-run"])
        let document = tool.temporaryFile("state.json")
        #expect(try tool.run(["snap", "export", "latest", document.path]).status == 0)
        try host.same(["snap", "import", document.path, "--tag", "imported", "-m", "from a file"])
        try host.same(["snap", "rm", "2"])
        try host.same(["snap", "rm", "2"], status: 1)
        try host.same(["snap", "list"])
        try host.same(["snap", "list", "--json"])
        try host.same(["snap", "show", "imported"])
        // What was saved on PostgreSQL reads back entry for entry.
        let fromPostgres = tool.temporaryFile("postgres.json"), fromSQLite = tool.temporaryFile("sqlite.json")
        #expect(try tool.run(["snap", "export", "imported", fromSQLite.path]).status == 0)
        #expect(try tool.run(["snap", "export", "imported", fromPostgres.path, "--db", url]).status == 0)
        #expect(try Data(contentsOf: fromPostgres) == Data(contentsOf: fromSQLite))
        // The imported snapshot is recorded under BPFTIME_HOST, like a save.
        #expect(try tool.run(["snap", "list", "--host", "alpha", "--db", url]).stdout.contains("imported"))
    }

    @Test func aSnapshotOfAnotherHostRestoresFromTheServerAndSaysSo() throws {
        let url = try PostgresCluster.shared.get().newDatabase()
        let alpha = ToolRunner(extraEnvironment: ["BPFTIME_HOST": "alpha", "BPFTIME_SNAP_RECORD": "0"])
        let beta = ToolRunner(extraEnvironment: ["BPFTIME_HOST": "beta", "BPFTIME_SNAP_RECORD": "0"])
        defer { alpha.cleanUp(); beta.cleanUp() }
        #expect(try alpha.run(["import", SnapshotEndToEndTests.demoState]).status == 0)
        #expect(try alpha.run(["map", "update", "3", "01000000", "0700000000000000"]).status == 0)
        #expect(try alpha.run(["snap", "save", "--db", url, "--tag", "good"]).stdout == "1\n")
        #expect(try beta.run(["import", SnapshotEndToEndTests.demoState]).status == 0)
        let restored = try beta.run(["snap", "restore", "alpha:good", "--db", url])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(restored.stdout.contains("snapshot 1 was recorded on host alpha, restored on beta"), "\(restored.stdout)")
        #expect(restored.stdout.contains("previous state saved as snapshot 2"), "\(restored.stdout)")
        // Beta now runs alpha's state, and the server holds beta's undo snapshot with its restore.
        #expect(try beta.run(["snap", "diff", "alpha:good", "live", "--db", url]).stdout == "no differences\n")
        let list = try beta.run(["snap", "list", "--host", "beta", "--db", url]).stdout
        #expect(list.contains("restored snapshot 1 at"), "\(list)")
    }

    @Test func changesAreRecordedIntoAPostgreSQLHistory() throws {
        let cluster = try PostgresCluster.shared.get()
        let url = try cluster.newDatabase()
        let tool = ToolRunner(extraEnvironment: ["BPFTIME_HOST": "alpha", "BPFTIME_SNAP_RECORD": "1", "SPDLOG_LEVEL": "info"])
        defer { tool.cleanUp() }
        let imported = try tool.run(["import", SnapshotEndToEndTests.demoState, "--db", url])
        #expect(imported.status == 0 && imported.stderr.contains("recorded as snapshot 1"), "\(imported.stderr)")
        let updated = try tool.run(["map", "update", "3", "01000000", "0700000000000000", "--db", url])
        #expect(updated.status == 0 && updated.stderr.contains("recorded as snapshot 2"), "\(updated.stderr)")
        #expect(!updated.stderr.contains(cluster.password))
        // Recorded with who made it, and the change reads back.
        #expect(try tool.run(["snap", "list", "--long", "--db", url]).stdout.contains("map update"))
        #expect(try tool.run(["snap", "diff", "1", "2", "--stat", "--db", url]).stdout.contains("1 changed"))
    }

    @Test func restoresTravelWithTheirUndoSnapshots() throws {
        let host = try FleetHost()
        defer { host.cleanUp() }
        let (cluster, url, tool) = (host.cluster, host.url, host.tool)
        #expect(try tool.run(["snap", "save", "-m", "first"]).stdout == "1\n")
        #expect(try tool.run(["map", "update", "3", "01000000", "0700000000000000"]).status == 0)
        #expect(try tool.run(["snap", "save", "-m", "second"]).stdout == "2\n")
        let restored = try tool.run(["snap", "restore", "1"])
        #expect(restored.status == 0, "\(restored.stderr)")
        let local = try tool.run(["snap", "list"]).stdout
        #expect(local.contains("restored snapshot 1 at"), "\(local)")
        #expect(try tool.run(["snap", "push", url]).status == 0)
        // The undo snapshot's restore arrived, naming the restored snapshot by the server's id.
        #expect(try cluster.psql("SELECT snapshot, undo_snapshot, fds FROM restores", url: url) == "1|3|[3]\n")
        #expect(FleetHost.timeless(try tool.run(["snap", "list", "--db", url]).stdout) == FleetHost.timeless(local))
        // And back into a new SQLite history.
        let copy = tool.temporaryFile("pulled.db").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: copy + suffix) } }
        #expect(try tool.run(["snap", "pull", url, "--db", copy]).status == 0)
        #expect(FleetHost.timeless(try tool.run(["snap", "list", "--db", copy]).stdout) == FleetHost.timeless(local))
    }
}

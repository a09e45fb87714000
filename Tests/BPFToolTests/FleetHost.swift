import Foundation
import TestSupport
import Testing

/// Where the fleet end-to-end tests start: host `alpha` (no recording) with the demo state
/// imported, and a new database on the tests' PostgreSQL cluster. `cleanUp()` when done.
struct FleetHost {
    let cluster: PostgresCluster
    /// The new database's URL, for `--db`.
    let url: String
    let tool: ToolRunner

    init(sourceLocation: SourceLocation = #_sourceLocation) throws {
        cluster = try PostgresCluster.shared.get()
        url = try cluster.newDatabase()
        tool = ToolRunner(extraEnvironment: ["BPFTIME_HOST": "alpha", "BPFTIME_SNAP_RECORD": "0"])
        do {
            let imported = try tool.run(["import", SnapshotEndToEndTests.demoState])
            #expect(imported.status == 0, "\(imported.stderr)", sourceLocation: sourceLocation)
        } catch {
            tool.cleanUp()
            throw error
        }
    }

    func cleanUp() { tool.cleanUp() }

    /// Runs `arguments` on the host's SQLite history and on the PostgreSQL database: both outputs.
    func both(_ arguments: [String]) throws -> (sqlite: ToolRunner.Result, postgres: ToolRunner.Result) {
        (try tool.run(arguments), try tool.run(arguments + ["--db", url]))
    }

    /// Expects `arguments` to end with `status` on SQLite, and as on SQLite (status and output,
    /// times aside) on PostgreSQL.
    func same(_ arguments: [String], status: Int32 = 0, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (sqlite, postgres) = try both(arguments)
        #expect(sqlite.status == status, "\(arguments): \(sqlite.stderr)", sourceLocation: sourceLocation)
        #expect(postgres.status == sqlite.status, "\(arguments): \(postgres.stderr)", sourceLocation: sourceLocation)
        #expect(Self.timeless(postgres.stdout) == Self.timeless(sqlite.stdout), "\(arguments)", sourceLocation: sourceLocation)
    }

    /// `text` with its times (`2026-01-02 03:04:05.678`, ISO forms too) replaced by `TIME`: the
    /// two histories saved the same states a moment apart.
    static func timeless(_ text: String) -> String {
        text.replacingOccurrences(of: #"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z?"#, with: "TIME",
                                  options: .regularExpression)
    }
}

import BPFModel
import Foundation
import GRDB

/// One schema migration: `migrations/NNNN_name.sql` (SQLite) or `migrations/postgres/NNNN_name.sql`,
/// embedded at build time, applied in order and recorded (version, name, checksum) in `schema_migrations`.
public struct SchemaMigration: Equatable, Sendable {
    public var version: Int
    public var name: String
    public var sql: String
    /// SHA-256 of the SQL text, lowercase hex.
    public var checksum: String { Hex.encode(SHA256.hash(Array(sql.utf8))) }
    /// GRDB's identifier, e.g. `0001_initial`.
    var identifier: String { String(format: "%04d_%@", version, name) }

    /// The PostgreSQL history's migrations, in order.
    public static let postgres: [SchemaMigration] = EmbeddedMigrations.postgres.map {
        SchemaMigration(version: $0.version, name: $0.name, sql: $0.sql)
    }
}

enum Schema {
    static let migrations: [SchemaMigration] = EmbeddedMigrations.sqlite.map {
        SchemaMigration(version: $0.version, name: $0.name, sql: $0.sql)
    }

    private static let recordTable = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            name       TEXT NOT NULL,
            checksum   TEXT NOT NULL,
            applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
        )
        """

    /// Refuses, without writing, a database this build must not touch: a foreign one, one with a
    /// migration this build does not know, or one whose applied migration differs from ours.
    static func check(_ db: Database, path: String, migrations: [SchemaMigration] = migrations) throws {
        let tables = try String.fetchSet(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
        guard tables.contains("schema_migrations") else {
            // GRDB creates its table before the first migration's transaction: another process
            // may be migrating this new file right now.
            if tables.subtracting(["grdb_migrations"]).isEmpty { return }
            throw SnapshotError.foreignDatabase(path: path)
        }
        let applied = try Row.fetchAll(db, sql: "SELECT version, name, checksum FROM schema_migrations ORDER BY version")
        for row in applied {
            let version: Int = row["version"], name: String = row["name"], checksum: String = row["checksum"]
            guard let known = migrations.first(where: { $0.version == version }) else {
                throw SnapshotError.newerSchema(path: path, version: version, name: name)
            }
            guard known.checksum == checksum, known.name == name else {
                throw SnapshotError.changedMigration(path: path, version: version, name: name)
            }
        }
    }

    /// True when every migration this build carries is applied.
    static func isComplete(_ db: Database, migrations: [SchemaMigration] = migrations) throws -> Bool {
        guard try db.tableExists("schema_migrations") else { return migrations.isEmpty }
        let applied = try Int.fetchSet(db, sql: "SELECT version FROM schema_migrations")
        return migrations.allSatisfy { applied.contains($0.version) }
    }

    static func migrate(_ pool: DatabasePool, path: String, migrations: [SchemaMigration] = migrations) throws {
        var migrator = DatabaseMigrator()
        for migration in migrations {
            migrator.registerMigration(migration.identifier) { db in
                try db.execute(sql: recordTable)
                try db.execute(sql: migration.sql)
                try db.execute(
                    sql: "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
                    arguments: [migration.version, migration.name, migration.checksum])
            }
        }
        try pool.read { try check($0, path: path, migrations: migrations) }
        do {
            try migrator.migrate(pool)
        } catch {
            // Another process may have applied the same migration between our read of the
            // applied list and our write: then the schema is complete and all is well.
            guard try pool.read({ try migrator.hasCompletedMigrations($0) }) else { throw error }
        }
        try pool.read { try check($0, path: path, migrations: migrations) }
    }
}

import BPFModel
@testable import BPFSnapshots
import Foundation
import GRDB
import Testing

@Suite struct SchemaTests {
    /// A database holding one snapshot, closed.
    func database(_ dir: TemporaryDirectory) throws -> String {
        let path = dir.file("s.db")
        let store = try SnapshotStore(path: path)
        _ = try store.save(Fixtures.everyKind(), meta: Fixtures.meta)
        return path
    }

    /// Opening `path` fails with `expected` and changes no byte of it.
    func expectRefused(_ path: String, _ expected: SnapshotError) {
        let before = Fixtures.fileBytes(path)
        #expect(throws: expected) { _ = try SnapshotStore(path: path) }
        #expect(Fixtures.fileBytes(path) == before)
    }

    @Test func embeddedMigrationsAreTheFilesOnDisk() throws {
        let dir = Fixtures.packageRoot + "/migrations"
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(Schema.migrations.map { $0.identifier + ".sql" } == files)
        for (migration, file) in zip(Schema.migrations, files) {
            #expect(migration.sql == (try String(contentsOfFile: dir + "/" + file, encoding: .utf8)))
            // Our SHA-256 agrees with coreutils'.
            let (_, sum) = try Fixtures.run("/usr/bin/sha256sum", [dir + "/" + file])
            #expect(sum.hasPrefix(migration.checksum + " "))
        }
    }

    @Test func embeddedPostgresMigrationsAreTheFilesOnDisk() throws {
        let dir = Fixtures.packageRoot + "/migrations/postgres"
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(!files.isEmpty)
        #expect(SchemaMigration.postgres.map { $0.identifier + ".sql" } == files)
        for (migration, file) in zip(SchemaMigration.postgres, files) {
            #expect(migration.sql == (try String(contentsOfFile: dir + "/" + file, encoding: .utf8)))
        }
    }

    @Test func appliedMigrationsAreRecorded() throws {
        let dir = TemporaryDirectory()
        let path = try database(dir)
        let rows = try Fixtures.query(path, "SELECT version, name, checksum FROM schema_migrations ORDER BY version")
        #expect(rows.map { $0["version"] as? Int } == Schema.migrations.map(\.version))
        #expect(rows.map { $0["checksum"] as? String } == Schema.migrations.map(\.checksum))
        #expect(try Fixtures.query(path, "PRAGMA journal_mode").first?["journal_mode"] as? String == "wal")
    }

    @Test func aNewerSchemaIsAppliedInOrderThenRefusedByTheOlderBuild() throws {
        let dir = TemporaryDirectory()
        let path = try database(dir)
        let next = (Schema.migrations.last?.version ?? 0) + 1
        let newer = Schema.migrations + [SchemaMigration(version: next, name: "extra", sql: "CREATE TABLE extra (x INTEGER);")]
        do {
            let pool = try DatabasePool(path: path)
            try Schema.migrate(pool, path: path, migrations: newer)
            try pool.close()
        }
        #expect(try Fixtures.query(path, "SELECT version, name FROM schema_migrations ORDER BY version").map { $0["name"] as? String }
                == Schema.migrations.map(\.name) + ["extra"])
        expectRefused(path, .newerSchema(path: path, version: next, name: "extra"))
    }

    @Test func aChangedMigrationIsRefused() throws {
        let dir = TemporaryDirectory()
        let path = try database(dir)
        _ = try Fixtures.query(path, "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
        expectRefused(path, .changedMigration(path: path, version: 1, name: "initial"))
    }

    @Test func corruptAndForeignFilesAreRefused() throws {
        let dir = TemporaryDirectory()
        let corrupt = dir.file("corrupt.db")
        var generator = SystemRandomNumberGenerator()
        #expect(FileManager.default.createFile(atPath: corrupt, contents: Data((0..<65_536).map { _ in UInt8.random(in: 0...255, using: &generator) })))
        expectRefused(corrupt, .notADatabase(path: corrupt))

        let foreign = dir.file("foreign.db")
        _ = try Fixtures.query(foreign, "CREATE TABLE people (name TEXT); INSERT INTO people VALUES ('ann')")
        expectRefused(foreign, .foreignDatabase(path: foreign))

        // A snapshot database whose pages were overwritten after its header.
        let damaged = try database(dir)
        var bytes = Fixtures.fileBytes(damaged)
        for i in 4096 ..< bytes.count { bytes[i] = UInt8(truncatingIfNeeded: i &* 31) }
        #expect(FileManager.default.createFile(atPath: damaged, contents: Data(bytes)))
        expectRefused(damaged, .notADatabase(path: damaged))
    }

    @Test func damageDeepInTheFileIsReportedNotTrapped() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.db")
        do { _ = try SnapshotStore(path: path).save([Fixtures.bigMap(100_000)], meta: Fixtures.meta) }
        var bytes = Fixtures.fileBytes(path)
        let pages = bytes.count / 4096
        for i in (pages * 6 / 10 * 4096) ..< (pages * 8 / 10 * 4096) { bytes[i] = UInt8(truncatingIfNeeded: i &* 131 &+ 7) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        let store = try SnapshotStore(path: path)  // the schema pages are intact
        #expect(throws: SnapshotError.notADatabase(path: path)) { _ = try store.records(of: 1) }
        // Reported either way, depending on which pages the damage hit: an error, or SQLite's list of damaged pages.
        switch Result(catching: { try store.integrityCheck() }) {
        case .success(let report): #expect(report != ["ok"])
        case .failure(let error): #expect(error as? SnapshotError == .notADatabase(path: path))
        }
    }

    @Test func unwritableLocationsGiveAClearError() throws {
        let dir = TemporaryDirectory()
        // Root ignores permission bits, but nobody creates files in /proc.
        let parent = getuid() == 0 ? "/proc/bpfsnap-\(getpid())" : dir.file("locked")
        if getuid() != 0 {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o500])
        }
        let path = parent + "/s.db"
        #expect {
            _ = try SnapshotStore(path: path)
        } throws: { error in
            guard case SnapshotError.cannotOpen(let p, let reason) = error else { return false }
            return p == path && !reason.isEmpty && "\(error)".hasPrefix("cannot open snapshot database \(path): ")
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func sha256KnownAnswers() {
        #expect(Hex.encode(SHA256.hash([UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Hex.encode(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Hex.encode(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // A million 'a's, fed in uneven pieces to exercise the buffering.
        var h = SHA256()
        var fed = 0
        while fed < 1_000_000 {
            let n = min(1 + fed % 97, 1_000_000 - fed)
            h.update([UInt8](repeating: 0x61, count: n))
            fed += n
        }
        #expect(Hex.encode(h.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// A kind with no row in `handler_kinds` (one the code gained before its row) is still
    /// listed, under its stored name, by the views that name kinds.
    @Test func viewsKeepHandlersOfKindsWithoutAName() throws {
        let dir = TemporaryDirectory()
        let path = try database(dir)
        let count = "SELECT count(*) AS n FROM handlers WHERE snapshot = 1"
        let all = try #require(Fixtures.query(path, count).first?["n"] as? Int)
        _ = try Fixtures.query(path, "DELETE FROM handler_kinds WHERE kind = 'memfd_handler'")
        #expect(try Fixtures.query(path, count).first?["n"] as? Int == all)
        let memfd = try Fixtures.query(path, "SELECT kind FROM handlers WHERE snapshot = 1 AND bpftime_kind = 'memfd_handler'")
        #expect(memfd.map { $0["kind"] as? String } == ["memfd_handler"])
        let changes = try Fixtures.query(path, "SELECT kind FROM handler_changes WHERE snapshot = 1 AND kind = 'memfd_handler'")
        #expect(changes.count == 1)
    }

    @Test func errorsReadClearly() {
        #expect("\(SnapshotError.unknownSnapshot("v9"))" == "no snapshot with id or tag 'v9'")
        #expect("\(SnapshotError.missingDependencies([13: [12, 7]]))"
                == "selective restore refused: fd 13 refers to fd 12, 7, which would be missing (restore them too, or with dependencies)")
        #expect("\(SnapshotError.newerSchema(path: "/d", version: 3, name: "x"))".contains("newer bpftimetool"))
    }
}

import BPFModel
@testable import BPFSnapshots
import Foundation
import GRDB
import Testing

/// Programs' AOT code: a content-addressed blob beside their bytecode (migration 0002).
@Suite struct AOTImageTests {
    static let image = (0 ..< 4123).map { UInt8(truncatingIfNeeded: $0 &* 13) }

    /// `everyKind()` with the program at fd 12 carrying `image`.
    static func withImage(_ image: [UInt8]?) -> [HandlerRecord] {
        Fixtures.everyKind().map { record in
            guard case .program(var p) = record.handler else { return record }
            p.aotImage = image
            return HandlerRecord(fd: record.fd, handler: .program(p))
        }
    }

    static func count(_ path: String, _ table: String) throws -> Int? {
        try Fixtures.query(path, "SELECT count(*) AS n FROM \(table)").first?["n"] as? Int
    }

    @Test func savedLoadedAndSharedAsABlob() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.db")
        let store = try SnapshotStore(path: path)
        let first = try store.save(Self.withImage(Self.image), meta: Fixtures.meta)
        #expect(try store.records(of: first) == Self.withImage(Self.image))
        let rows = try Fixtures.query(path, "SELECT fd, aot_bytes, aot_hash FROM programs WHERE snapshot = \(first)")
        #expect(rows.first?["aot_bytes"] as? Int == Self.image.count)
        #expect(rows.first?["aot_hash"] as? String == Hex.encode(SHA256.hash(Self.image)))

        // The same image under another program name is stored once.
        let blobs = try Self.count(path, "blobs")
        var renamed = Self.withImage(Self.image)
        if case .program(var p) = renamed[9].handler { p.name = "renamed"; renamed[9].handler = .program(p) }
        _ = try store.save(renamed, meta: Fixtures.meta)
        #expect(try Self.count(path, "blobs") == blobs)

        // Without an image the view says NULL, and the state is the one saved before AOT existed.
        let plain = try store.save(Fixtures.everyKind(), meta: Fixtures.meta)
        #expect(try Fixtures.query(path, "SELECT aot_bytes FROM programs WHERE snapshot = \(plain)").first?["aot_bytes"] is NSNull)
        #expect(try store.records(of: plain) == Fixtures.everyKind())
    }

    @Test func diffReportsTheImageAppearingChangingAndDisappearing() throws {
        let dir = TemporaryDirectory()
        let store = try SnapshotStore(path: dir.file("s.db"))
        var recompiled = Self.image
        recompiled[100] ^= 0xff
        let states = [nil, Self.image, recompiled, nil]
        let ids = try states.map { try store.save(Self.withImage($0), meta: Fixtures.meta) }
        func summary(_ image: [UInt8]) -> String { "4123 bytes (sha256 \(Hex.encode(Array(SHA256.hash(image).prefix(4)))))" }
        let expected = [("absent", summary(Self.image)), (summary(Self.image), summary(recompiled)), (summary(recompiled), "absent")]
        for (step, (old, new)) in expected.enumerated() {
            for diff in [try store.diff(ids[step], ids[step + 1]), try store.diff(ids[step], live: Self.withImage(states[step + 1]))] {
                #expect(diff.added.isEmpty && diff.removed.isEmpty)
                #expect(diff.changed.map(\.fd) == [12])
                #expect(diff.changed.first?.attributeChanges.map { [$0.name, $0.old, $0.new] } == [["aot", old, new]])
                #expect(diff.changed.first?.instructionChanges == [])
            }
        }
        #expect(try store.diff(ids[0], ids[3]).isEmpty)
    }

    @Test func garbageCollectionKeepsImagesInUse() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.db")
        let store = try SnapshotStore(path: path)
        let compiled = try store.save(Self.withImage(Self.image), meta: Fixtures.meta)
        let plain = try store.save(Fixtures.everyKind(), meta: Fixtures.meta)
        #expect(try store.collectGarbage().blobs == 0)
        #expect(try store.records(of: compiled) == Self.withImage(Self.image))
        try store.remove(compiled)
        #expect(try store.collectGarbage().blobs == 1, "the image went, the shared bytecode stayed")
        #expect(try store.records(of: plain) == Fixtures.everyKind())
    }

    /// A database written before 0002 (its rows as that build wrote them) migrates in place:
    /// its snapshots read back unchanged, and its handler states keep their hashes.
    @Test func aDatabaseOfTheFirstSchemaMigrates() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("old.db")
        let program = Fixtures.everyKind()[9]
        let state = try PreparedState(program, fingerprint: nil, knownContent: nil)
        do {
            let pool = try DatabasePool(path: path)
            try Schema.migrate(pool, path: path, migrations: Array(Schema.migrations.prefix(1)))
            try pool.write { db in
                try db.execute(sql: "INSERT INTO snapshots (id, created_at, segment_name, host, generation) VALUES (1, '2026-11-24 10:00:00.000', 'seg', 'host', 1)")
                try db.execute(sql: "INSERT INTO blobs (id, hash, data) VALUES (1, ?, ?)",
                               arguments: [Data(state.bytecodeHash ?? []), Data(state.bytecode ?? [])])
                try db.execute(sql: "INSERT INTO handler_states (id, hash, kind, name, attributes, program) VALUES (1, ?, ?, ?, ?, 1)",
                               arguments: [Data(state.hash), state.kind.rawValue, state.name, state.attributes])
                try db.execute(sql: "INSERT INTO snapshot_handlers (snapshot, fd, state) VALUES (1, ?, 1)", arguments: [program.fd])
            }
            try pool.close()
        }
        #expect(try Fixtures.query(path, "SELECT version FROM schema_migrations").count == 1)

        let store = try SnapshotStore(path: path)
        #expect(try Fixtures.query(path, "SELECT version FROM schema_migrations ORDER BY version").map { $0["version"] as? Int }
                == Schema.migrations.map(\.version))
        #expect(try store.records(of: 1) == [program])
        #expect(try store.diff(1, live: [program]).isEmpty)
        let again = try store.save([program], meta: Fixtures.meta)
        #expect(try Self.count(path, "handler_states") == 1, "an unchanged program reuses its old state")
        #expect(try Fixtures.query(path, "SELECT aot_bytes FROM programs WHERE snapshot = \(again)").first?["aot_bytes"] is NSNull)
        let compiled = try store.save(Self.withImage(Self.image).filter { $0.fd == program.fd }, meta: Fixtures.meta)
        #expect(try Fixtures.query(path, "SELECT aot_bytes FROM programs WHERE snapshot = \(compiled)").first?["aot_bytes"] as? Int
                == Self.image.count)
        #expect(try store.integrityCheck() == ["ok"])
    }
}

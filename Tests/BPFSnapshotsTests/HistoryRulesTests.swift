import BPFModel
@testable import BPFSnapshots
import Foundation
import GRDB
import Testing

/// Issue 9's rules for the history: ids never reused, reserved tags, moving and deleting tags,
/// read-only opens that create nothing, damage reported by name, restore records.
@Suite struct HistoryRulesTests {
    @Test func snapshotIdsAreNeverReused() throws {
        let dir = TemporaryDirectory()
        let store = try SnapshotStore(path: dir.file("s.db"))
        let ids = try (0 ..< 3).map { _ in try store.save(Fixtures.everyKind(), meta: Fixtures.meta) }
        try store.remove(ids[2])
        let next = try store.save(Fixtures.everyKind(), meta: Fixtures.meta)
        #expect(next == ids[2] + 1, "the removed id \(ids[2]) stays retired")
    }

    /// A history from before 0003 keeps every snapshot, tag and handler row, and its highest
    /// id is not handed out again after the migration.
    @Test func migrationKeepsDataAndRetiresIds() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("old.db")
        do {
            let pool = try DatabasePool(path: path)
            try Schema.migrate(pool, path: path, migrations: Array(Schema.migrations.prefix(2)))
            try pool.close()
        }
        _ = try Fixtures.query(path, """
            PRAGMA foreign_keys = ON;
            INSERT INTO snapshots (id, created_at, segment_name, host, generation, message) VALUES
                (1, '2026-01-01 00:00:00.000', 's', 'h', 1, 'one'), (2, '2026-01-02 00:00:00.000', 's', 'h', 2, 'two');
            UPDATE snapshots SET parent = 1 WHERE id = 2;
            INSERT INTO tags VALUES ('first', 1);
            INSERT INTO blobs (id, hash, data) VALUES (1, x'00', x'9500000000000000');
            INSERT INTO handler_states (id, hash, kind, name, attributes, program) VALUES
                (1, x'01', 'bpf_prog_handler', 'p', '{"type":1,"attachments":[]}', 1);
            INSERT INTO snapshot_handlers VALUES (1, 4, 1), (2, 4, 1);
            DELETE FROM snapshots WHERE id = 2;
            """)
        let store = try SnapshotStore(path: path)
        #expect(try store.list().map(\.id) == [1])
        #expect(try store.resolve("first") == 1)
        #expect(try store.records(of: 1).map(\.fd) == [4])
        #expect(try Fixtures.query(path, "PRAGMA foreign_key_check").isEmpty)
        let next = try store.save(Fixtures.everyKind(), meta: Fixtures.meta)
        #expect(next == 2, "ids continue after the highest kept one")
        try store.remove(next)
        #expect(try store.save(Fixtures.everyKind(), meta: Fixtures.meta) == 3)
    }

    @Test func liveIsNotATagAndTagsMoveOrGoOnlyWhenAsked() throws {
        let dir = TemporaryDirectory()
        let store = try SnapshotStore(path: dir.file("s.db"))
        let a = try store.save(Fixtures.everyKind(), meta: Fixtures.meta)
        let b = try store.save(Fixtures.everyKind(), meta: Fixtures.meta)
        #expect(throws: SnapshotError.reservedTag("live")) { try store.tag(a, "live") }
        #expect(throws: SnapshotError.reservedTag("LIVE")) { try store.save([], meta: SnapshotMeta(segmentName: "s", host: "h", generation: 0, tags: ["LIVE"])) }
        try store.tag(a, "stable")
        #expect(throws: SnapshotError.tagTaken(tag: "stable", snapshot: a)) { try store.tag(b, "stable") }
        try store.tag(b, "stable", move: true)
        #expect(try store.resolve("stable") == b)
        try store.untag("stable")
        #expect(throws: SnapshotError.unknownSnapshot("stable")) { try store.resolve("stable") }
        #expect(throws: SnapshotError.unknownTag("stable")) { try store.untag("stable") }
        #expect(try store.list().map(\.id) == [a, b], "deleting a tag keeps its snapshot")
    }

    @Test func readingAMissingHistoryCreatesNothing() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("no/such/dir/h.db")
        #expect(throws: SnapshotError.noHistory(path: path)) { try SnapshotStore(path: path, access: .read) }
        #expect(!FileManager.default.fileExists(atPath: dir.file("no")))
        let existing = dir.file("h.db")
        let id = try SnapshotStore(path: existing).save(Fixtures.everyKind(), meta: Fixtures.meta)
        let reader = try SnapshotStore(path: existing, access: .read)
        #expect(try reader.list().map(\.id) == [id])
        #expect(throws: SnapshotError.self) { try reader.save(Fixtures.everyKind(), meta: Fixtures.meta) }
    }

    @Test func missingContentIsReportedAsDamageByName() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.db")
        let store = try SnapshotStore(path: path)
        let id = try store.save(Fixtures.everyKind(), meta: Fixtures.meta)
        _ = try Fixtures.query(path, "DELETE FROM blobs WHERE id = (SELECT program FROM handler_states WHERE program IS NOT NULL LIMIT 1)")
        #expect { try store.records(of: id) } throws: { "\($0)".hasPrefix("history damaged: program blob") }

        let other = try store.save([Fixtures.bigMap(3000)], meta: Fixtures.meta)
        _ = try Fixtures.query(path, """
            DELETE FROM chunk_entries WHERE chunk = (SELECT c.chunk FROM map_content_chunks c
                                                     JOIN map_contents m ON m.id = c.content WHERE m.entry_count = 3000 LIMIT 1)
            """)
        #expect { try store.records(of: other) } throws: { "\($0)".hasPrefix("history damaged: map contents") }
    }

    @Test func aWrongEntryCountIsReportedAsDamage() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.db")
        let store = try SnapshotStore(path: path)
        let id = try store.save([Fixtures.bigMap(3000)], meta: Fixtures.meta)
        // Fewer than stored (the buffers sized by the count are full), more, and too many to allocate.
        for count in [2999, 3001, 1 << 50] {
            _ = try Fixtures.query(path, "UPDATE map_contents SET entry_count = \(count) WHERE id = (SELECT max(map_content) FROM handler_states)")
            #expect { try store.records(of: id) } throws: { "\($0)".hasPrefix("history damaged: map contents") }
        }
    }

    @Test func storedTimesAreUTCMillisecondsThatReadBack() throws {
        let text = SQLiteConnection.storedTime(Date(timeIntervalSince1970: 1_764_607_201.1239))
        #expect(text == "2025-12-01 16:40:01.123")
        let back = try #require(SQLiteConnection.parseTime(text))
        #expect(abs(back.timeIntervalSince1970 - 1_764_607_201.123) < 1e-6)
    }

    @Test func restoresAreRecordedWithTheirUndoSnapshot() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.db")
        let store = try SnapshotStore(path: path)
        let target = try store.save(Fixtures.everyKind(), meta: Fixtures.meta)
        let undo = try store.save([], meta: Fixtures.meta, restoring: RestoreEntry(snapshot: target, fds: [3, 7], selection: [3]))
        #expect(try store.info(undo).undoOf?.snapshot == target)
        #expect(try store.info(undo).undoOf?.fds == [3, 7])
        #expect(try store.info(target).undoOf == nil)
        let rows = try Fixtures.query(path, "SELECT snapshot, undo_snapshot, fds, selection FROM restores")
        #expect(rows.count == 1 && rows[0]["fds"] as? String == "[3,7]" && rows[0]["selection"] as? String == "[3]")

        // A save whose last step fails records neither the snapshot nor the restore.
        struct Refused: Error {}
        #expect(throws: Refused.self) {
            try store.save([], meta: Fixtures.meta, restoring: RestoreEntry(snapshot: target, fds: [1], selection: nil)) { _ in throw Refused() }
        }
        #expect(try Fixtures.query(path, "SELECT count(*) AS n FROM restores").first?["n"] as? Int == 1)
        #expect(try store.list().map(\.id) == [target, undo])
    }
}

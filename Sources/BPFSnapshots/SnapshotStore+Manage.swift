import BPFModel
import GRDB

extension SnapshotStore {
    /// Deletes a snapshot (see `SQLConnection.remove`).
    public func remove(_ id: Int64) throws {
        try withConnection { try $0.remove(id) }
    }

    /// Names snapshot `id` with `tag` (see `SQLConnection.tag`).
    public func tag(_ id: Int64, _ tag: String, move: Bool = false) throws {
        try withConnection { try $0.tag(id, tag, move: move) }
    }

    /// Deletes a tag (the snapshot stays).
    public func untag(_ tag: String) throws {
        try withConnection { try $0.untag(tag) }
    }

    /// Deletes stored content no snapshot uses any more: handler states, then the instruction
    /// and AOT code blobs, map contents (with the layers and bases they read) and chunks only they
    /// used. Returns how many blobs and chunks went. Foreign keys are off for the collection: it
    /// deletes only what nothing references (found with one scan each, what a cascade would
    /// delete included), where checking each row deleted would scan `snapshot_handlers` again
    /// (it has no index by state: migration 0010).
    @discardableResult
    public func collectGarbage() throws -> (blobs: Int, chunks: Int) {
        WorkProgress.current?.begin("dropping unused content", total: 0)
        return try guarded {
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA foreign_keys = OFF")
                defer { try? db.execute(sql: "PRAGMA foreign_keys = ON") }
                var collected = (blobs: 0, chunks: 0)
                try db.inTransaction {
                    collected = try Self.collectGarbage(db)
                    return .commit
                }
                return collected
            }
        }
    }

    private static func collectGarbage(_ db: Database) throws -> (blobs: Int, chunks: Int) {
        try db.execute(sql: """
            DELETE FROM handler_states WHERE id NOT IN (SELECT state FROM snapshot_handlers);
            CREATE TEMP TABLE used_contents AS
                SELECT map_content AS id FROM handler_states WHERE map_content IS NOT NULL
                UNION SELECT l.layer FROM handler_states st JOIN map_content_layers l ON l.content = st.map_content
                UNION SELECT m.base FROM handler_states st JOIN map_contents m ON m.id = st.map_content WHERE m.base IS NOT NULL;
            DELETE FROM map_content_deltas WHERE content NOT IN (SELECT id FROM used_contents);
            DELETE FROM map_content_layers WHERE content NOT IN (SELECT id FROM used_contents);
            DELETE FROM map_content_chunks WHERE content NOT IN (SELECT id FROM used_contents);
            DELETE FROM map_content_sources WHERE content NOT IN (SELECT id FROM used_contents);
            DELETE FROM map_contents WHERE id NOT IN (SELECT id FROM used_contents);
            DROP TABLE used_contents;
            DELETE FROM blobs WHERE id NOT IN (SELECT program FROM handler_states WHERE program IS NOT NULL
                                               UNION SELECT aot_image FROM handler_states WHERE aot_image IS NOT NULL);
            """)
        let blobs = db.changesCount
        try db.execute(sql: """
            CREATE TEMP TABLE dead_chunks AS SELECT id FROM chunks WHERE id NOT IN (SELECT chunk FROM map_content_chunks);
            DELETE FROM chunk_entries WHERE chunk IN (SELECT id FROM dead_chunks);
            DELETE FROM chunks WHERE id IN (SELECT id FROM dead_chunks);
            """)
        let chunks = db.changesCount
        try db.execute(sql: "DROP TABLE dead_chunks")
        return (blobs, chunks)
    }
}

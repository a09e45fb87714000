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

    /// Deletes stored content no snapshot uses any more (see `SQLConnection.collectUnreferenced`),
    /// with foreign keys off: the collection deletes only what nothing references, where
    /// checking each row deleted would scan `snapshot_handlers` again (it has no index by state:
    /// migration 0010). The save's source hashes of the contents that went go too.
    @discardableResult
    public func collectGarbage() throws -> (blobs: Int, chunks: Int) {
        WorkProgress.current?.begin("dropping unused content", total: 0)
        return try guarded {
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA foreign_keys = OFF")
                defer { try? db.execute(sql: "PRAGMA foreign_keys = ON") }
                let history = SQLiteConnection(db: db, location: path)
                return try history.transaction {
                    let collected = try history.collectUnreferenced()
                    try db.execute(sql: "DELETE FROM map_content_sources WHERE content NOT IN (SELECT id FROM map_contents)")
                    return collected
                }
            }
        }
    }
}

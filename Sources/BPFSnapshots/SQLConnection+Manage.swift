import BPFModel

/// Tags and removal on any history: the SQLite store runs these too (`SnapshotStore.tag`,
/// `untag`, `remove`), so both engines answer alike.
extension SQLConnection {
    /// Deletes a snapshot (its handler rows and tags); its children take its parent. Content it
    /// alone used stays until a garbage collection.
    public func remove(_ id: Int64) throws {
        try remove([id])
    }

    /// Deletes these snapshots in one transaction (as `remove` does each).
    public func remove(_ ids: [Int64]) throws {
        try transaction {
            let progress = WorkProgress.current
            progress?.begin("removing", total: ids.count)
            for id in ids.sorted() {
                guard let row = try rows("SELECT parent FROM snapshots WHERE id = $1", [.integer(id)]).first else {
                    throw SnapshotError.unknownSnapshot(String(id))
                }
                try execute("UPDATE snapshots SET parent = $1 WHERE parent = $2", [row[0], .integer(id)])
                try execute("DELETE FROM snapshots WHERE id = $1", [.integer(id)])
                progress?.advance(1)
            }
        }
    }

    /// Names snapshot `id` with `tag`; a tag already naming another snapshot is refused
    /// unless `move`, which takes it over.
    public func tag(_ id: Int64, _ tag: String, move: Bool = false) throws {
        try SnapshotStore.validateTag(tag)
        try transaction {
            guard try value("SELECT 1 FROM snapshots WHERE id = $1", [.integer(id)]) != nil else {
                throw SnapshotError.unknownSnapshot(String(id))
            }
            if move { try execute("DELETE FROM tags WHERE name = $1", [.text(tag)]) }
            try insertTag(tag, snapshot: id)
        }
    }

    /// Deletes a tag (the snapshot stays).
    public func untag(_ tag: String) throws {
        try transaction {
            guard !(try rows("DELETE FROM tags WHERE name = $1 RETURNING name", [.text(tag)]).isEmpty) else {
                throw SnapshotError.unknownTag(tag)
            }
        }
    }

    /// Adds `tag` to `snapshot` inside the caller's transaction; one naming another snapshot is refused.
    func insertTag(_ tag: String, snapshot: Int64) throws {
        if let owner = try value("SELECT snapshot FROM tags WHERE name = $1", [.text(tag)])?.integer {
            guard owner == snapshot else { throw SnapshotError.tagTaken(tag: tag, snapshot: owner) }
            return
        }
        try execute("INSERT INTO tags (name, snapshot) VALUES ($1, $2)", [.text(tag), .integer(snapshot)])
    }

    /// True when `snapshot` has exactly the handlers `states` describe (same fds, same content
    /// hashes), compared without loading any content: the test of a save `unlessUnchanged`.
    func snapshot(_ snapshot: Int64, holdsExactly states: [PreparedState]) throws -> Bool {
        let stored = try rows("""
            SELECT h.fd, st.hash FROM snapshot_handlers h JOIN handler_states st ON st.id = h.state
            WHERE h.snapshot = $1 ORDER BY h.fd
            """, [.integer(snapshot)])
        return stored.count == states.count && zip(stored, states).allSatisfy { row, state in
            row[0].integer == Int64(state.fd) && row[1].blob == state.hash
        }
    }
}

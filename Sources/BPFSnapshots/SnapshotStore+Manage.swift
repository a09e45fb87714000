import GRDB

extension SnapshotStore {
    /// Deletes a snapshot (its handler rows and tags); its children take its parent. Content it
    /// alone used stays until `collectGarbage`.
    public func remove(_ id: Int64) throws {
        try guarded {
            try pool.write { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT parent FROM snapshots WHERE id = ?", arguments: [id]) else {
                    throw SnapshotError.unknownSnapshot(String(id))
                }
                let parent: Int64? = row[0]
                try db.execute(sql: "UPDATE snapshots SET parent = ? WHERE parent = ?", arguments: [parent, id])
                try db.execute(sql: "DELETE FROM snapshots WHERE id = ?", arguments: [id])
            }
        }
    }

    /// Names snapshot `id` with `tag`; a tag already naming another snapshot is refused
    /// unless `move`, which takes it over.
    public func tag(_ id: Int64, _ tag: String, move: Bool = false) throws {
        try Self.validateTag(tag)
        try guarded {
            try pool.write { db in
                guard try Bool.fetchOne(db, sql: "SELECT 1 FROM snapshots WHERE id = ?", arguments: [id]) == true else {
                    throw SnapshotError.unknownSnapshot(String(id))
                }
                if move { try db.execute(sql: "DELETE FROM tags WHERE name = ?", arguments: [tag]) }
                try Self.insertTag(db, tag, snapshot: id)
            }
        }
    }

    /// Deletes a tag (the snapshot stays).
    public func untag(_ tag: String) throws {
        try guarded {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM tags WHERE name = ?", arguments: [tag])
                guard db.changesCount == 1 else { throw SnapshotError.unknownTag(tag) }
            }
        }
    }

    /// Deletes stored content no snapshot uses any more: handler states, then the instruction
    /// and AOT code blobs, map contents (with the layers and bases they read) and chunks only they used. Returns how many blobs and chunks went.
    @discardableResult
    public func collectGarbage() throws -> (blobs: Int, chunks: Int) {
        try guarded {
            try pool.write { db in
                try db.execute(sql: """
                    DELETE FROM handler_states WHERE id NOT IN (SELECT state FROM snapshot_handlers);
                    CREATE TEMP TABLE used_contents AS
                        SELECT map_content AS id FROM handler_states WHERE map_content IS NOT NULL
                        UNION SELECT l.layer FROM handler_states st JOIN map_content_layers l ON l.content = st.map_content
                        UNION SELECT m.base FROM handler_states st JOIN map_contents m ON m.id = st.map_content WHERE m.base IS NOT NULL;
                    DELETE FROM map_content_deltas WHERE content NOT IN (SELECT id FROM used_contents);
                    DELETE FROM map_content_layers WHERE content NOT IN (SELECT id FROM used_contents);
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
    }
}

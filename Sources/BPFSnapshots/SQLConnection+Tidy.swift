/// Garbage collection and the space report on any history: the SQLite store runs
/// these too, around its own file handling (foreign keys, VACUUM, page counts).
extension SQLConnection {
    /// Deletes, inside the caller's transaction, the stored content no snapshot uses any more:
    /// handler states, then map contents (with the layers and bases they read), the instruction
    /// and AOT code blobs and the chunks only they used. Returns how many blobs and chunks went.
    /// Each "unused" set is one `EXCEPT` (a sort or a hash on both engines), never a lookup per
    /// row: SQLite has no index of `snapshot_handlers` by state (migration 0010), and
    /// PostgreSQL's `NOT IN` falls back to a scan per row when the set outgrows `work_mem`. Children go
    /// before their parents, so PostgreSQL's foreign keys hold at every statement.
    public func collectUnreferenced() throws -> (blobs: Int, chunks: Int) {
        let statements = [
            "DELETE FROM handler_states WHERE id IN (SELECT id FROM handler_states EXCEPT SELECT state FROM snapshot_handlers)",
            """
            CREATE TEMP TABLE dead_contents AS SELECT id FROM map_contents EXCEPT SELECT id FROM (
                SELECT map_content AS id FROM handler_states WHERE map_content IS NOT NULL
                UNION SELECT l.layer FROM handler_states st JOIN map_content_layers l ON l.content = st.map_content
                UNION SELECT m.base FROM handler_states st JOIN map_contents m ON m.id = st.map_content WHERE m.base IS NOT NULL) AS used
            """,
            "DELETE FROM map_content_deltas WHERE content IN (SELECT id FROM dead_contents)",
            "DELETE FROM map_content_layers WHERE content IN (SELECT id FROM dead_contents)",
            "DELETE FROM map_content_chunks WHERE content IN (SELECT id FROM dead_contents)",
            "DELETE FROM map_contents WHERE id IN (SELECT id FROM dead_contents)",
            "DROP TABLE dead_contents",
        ]
        for statement in statements { try execute(statement, []) }
        let blobs = try rows("""
            DELETE FROM blobs WHERE id IN (SELECT id FROM blobs EXCEPT SELECT id FROM (
                SELECT program AS id FROM handler_states WHERE program IS NOT NULL
                UNION SELECT aot_image FROM handler_states WHERE aot_image IS NOT NULL) AS used) RETURNING id
            """, []).count
        try execute("CREATE TEMP TABLE dead_chunks AS SELECT id FROM chunks EXCEPT SELECT chunk FROM map_content_chunks", [])
        try execute("DELETE FROM chunk_entries WHERE chunk IN (SELECT id FROM dead_chunks)", [])
        let chunks = try rows("DELETE FROM chunks WHERE id IN (SELECT id FROM dead_chunks) RETURNING id", []).count
        try execute("DROP TABLE dead_chunks", [])
        return (blobs, chunks)
    }

    /// `snap du`'s segments and maps; `storage` is the engine's own measure of its space.
    public func storageUsage(_ storage: StorageUsage.Space) throws -> StorageUsage {
        // Entry bytes of each stored contents: a base's chunks, or a layer's own changes.
        let own = """
            SELECT m.id AS content,
                   CASE WHEN m.base IS NULL
                        THEN (SELECT coalesce(sum(ch.entry_count), 0) FROM map_content_chunks c JOIN chunks ch ON ch.id = c.chunk WHERE c.content = m.id)
                        ELSE (SELECT count(*) FROM map_content_deltas d WHERE d.content = m.id) END
                   * (CASE WHEN m.key_size = 0 THEN 4 ELSE m.key_size END + m.value_size * m.values_per_entry) AS bytes
            FROM map_contents m
            """
        // Which segments read each contents (as a handler's, a layer or a base).
        let readers = """
            SELECT DISTINCT u.content, s.segment_name FROM snapshots s
            JOIN snapshot_handlers h ON h.snapshot = s.id JOIN handler_states st ON st.id = h.state
            JOIN map_contents m ON m.id = st.map_content
            JOIN (SELECT id AS c, id AS content FROM map_contents
                  UNION ALL SELECT content, layer FROM map_content_layers
                  UNION ALL SELECT id, base FROM map_contents WHERE base IS NOT NULL) u ON u.c = m.id
            """
        // Sums are cast: PostgreSQL's sum of BIGINTs is a NUMERIC.
        let segments = try rows("""
            WITH own AS (\(own)), readers AS (\(readers)),
                 shared AS (SELECT content, count(*) AS n FROM readers GROUP BY content)
            SELECT s.segment_name, (SELECT count(*) FROM snapshots x WHERE x.segment_name = s.segment_name),
                   CAST(coalesce(sum(CASE WHEN sh.n = 1 THEN o.bytes END), 0) AS BIGINT),
                   CAST(coalesce(sum(CASE WHEN sh.n > 1 THEN o.bytes END), 0) AS BIGINT)
            FROM (SELECT DISTINCT segment_name FROM snapshots) s
            LEFT JOIN readers r ON r.segment_name = s.segment_name
            LEFT JOIN own o ON o.content = r.content
            LEFT JOIN shared sh ON sh.content = r.content
            GROUP BY s.segment_name ORDER BY s.segment_name
            """, []).map { (name: $0[0].text ?? "", snapshots: Self.int($0[1]), uniqueBytes: Self.int($0[2]), sharedBytes: Self.int($0[3])) }
        // A map's name is the greatest it had (names rarely change; one answer on both engines).
        let maps = try rows("""
            WITH own AS (\(own))
            SELECT s.segment_name, h.fd, max(coalesce(st.name, '')), count(DISTINCT st.map_content),
                   (SELECT CAST(coalesce(sum(o.bytes), 0) AS BIGINT) FROM own o WHERE o.content IN (
                       SELECT st2.map_content FROM snapshots s2 JOIN snapshot_handlers h2 ON h2.snapshot = s2.id
                       JOIN handler_states st2 ON st2.id = h2.state
                       WHERE s2.segment_name = s.segment_name AND h2.fd = h.fd))
            FROM snapshots s JOIN snapshot_handlers h ON h.snapshot = s.id
            JOIN handler_states st ON st.id = h.state AND st.map_content IS NOT NULL
            GROUP BY s.segment_name, h.fd ORDER BY s.segment_name, h.fd
            """, []).map { (segment: $0[0].text ?? "", fd: Self.int($0[1]), name: $0[2].text ?? "", contents: Self.int($0[3]), entryBytes: Self.int($0[4])) }
        return StorageUsage(space: storage, segments: segments, maps: maps)
    }

    private static func int(_ value: SQLValue) -> Int { Int(truncatingIfNeeded: value.integer ?? 0) }
}

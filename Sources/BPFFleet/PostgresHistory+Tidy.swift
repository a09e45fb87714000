import BPFSnapshots

/// Garbage collection and the space report on a PostgreSQL history: the shared algorithms
/// (`SQLConnection.collectUnreferenced`, `storageUsage`), PostgreSQL's own measure of space.
extension PostgresHistory {
    /// The tables content is stored in, which a collection deletes from.
    private static let contentTables = ["handler_states", "map_contents", "map_content_chunks", "map_content_layers",
                                        "map_content_deltas", "blobs", "chunks", "chunk_entries"]

    /// Deletes unused content in one transaction that holds off every writer (saves, pushes)
    /// until it commits: a row found unused must not gain a user before it is deleted.
    public func collectGarbage() throws -> (blobs: Int, chunks: Int) {
        try transaction {
            try execute("LOCK TABLE snapshots, snapshot_handlers, \(Self.contentTables.joined(separator: ", ")) IN SHARE ROW EXCLUSIVE MODE", [])
            return try collectUnreferenced()
        }
    }

    /// Plain VACUUM of the content tables: the space of deleted rows becomes reusable and empty
    /// pages at a table's end go back to the file system, without locking out readers or
    /// writers (VACUUM FULL, which gives everything back, would lock them out).
    public func vacuum() throws {
        try execute("VACUUM \(Self.contentTables.joined(separator: ", "))", [])
    }

    /// The bytes of the history's tables with their indexes and TOAST (PostgreSQL does not
    /// count free space without an extension).
    public func space() throws -> StorageUsage.Space {
        let bytes = try rows("""
            SELECT CAST(coalesce(sum(pg_total_relation_size(c.oid)), 0) AS BIGINT) FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = current_schema()
            """, []).first?.first?.integer ?? 0
        return StorageUsage.Space(kind: "tables", bytes: Int(bytes), freeBytes: nil)
    }

    public func usage() throws -> StorageUsage {
        try storageUsage(space())
    }
}

import BPFModel
import Foundation
import GRDB

/// What the history's file holds, for `snap du`.
public struct StorageUsage: Equatable, Sendable {
    /// Bytes of the file and of its free pages.
    public var fileBytes: Int, freeBytes: Int
    /// Per segment: snapshots, and bytes of map entries only its snapshots use (`unique`) or
    /// that other segments' snapshots use too (`shared`), estimated from entry sizes.
    public var segments: [(name: String, snapshots: Int, uniqueBytes: Int, sharedBytes: Int)]
    /// Per map (segment, fd, name): distinct contents its snapshots hold, and the entry bytes
    /// those store themselves (a base's entries, a layer's changes).
    public var maps: [(segment: String, fd: Int, name: String, contents: Int, entryBytes: Int)]

    public static func == (a: StorageUsage, b: StorageUsage) -> Bool {
        a.fileBytes == b.fileBytes && a.freeBytes == b.freeBytes
            && a.segments.map { "\($0)" } == b.segments.map { "\($0)" } && a.maps.map { "\($0)" } == b.maps.map { "\($0)" }
    }
}

extension SnapshotStore {
    /// Deletes these snapshots in one transaction (as `remove` does each).
    public func remove(_ ids: [Int64]) throws {
        try guarded {
            try pool.write { db in
                let progress = WorkProgress.current
                progress?.begin("removing", total: ids.count)
                for id in ids.sorted() {
                    guard let row = try Row.fetchOne(db, sql: "SELECT parent FROM snapshots WHERE id = ?", arguments: [id]) else {
                        throw SnapshotError.unknownSnapshot(String(id))
                    }
                    let parent: Int64? = row[0]
                    try db.execute(sql: "UPDATE snapshots SET parent = ? WHERE parent = ?", arguments: [parent, id])
                    try db.execute(sql: "DELETE FROM snapshots WHERE id = ?", arguments: [id])
                    progress?.advance(1)
                }
            }
        }
    }

    /// The file's size, after checkpointing the WAL into it.
    public func fileBytes() throws -> (total: Int, free: Int) {
        try guarded {
            try pool.writeWithoutTransaction { db in
                try db.checkpoint(.truncate)
                let size = try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 0
                return (size * (try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0),
                        size * (try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0))
            }
        }
    }

    /// Gives the free pages back to the file system (VACUUM: rewrites the file, so it waits for
    /// every reader and needs as much free disk as the file holds).
    public func vacuum() throws {
        try guarded {
            WorkProgress.current?.begin("rewriting the file (VACUUM)", total: 0)
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "VACUUM")
                try db.checkpoint(.truncate)
            }
        }
    }

    public func usage() throws -> StorageUsage {
        let (total, free) = try fileBytes()
        return try guarded {
            try pool.read { db in
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
                let segments = try Row.fetchAll(db, sql: """
                    WITH own AS (\(own)), readers AS (\(readers)),
                         shared AS (SELECT content, count(*) AS n FROM readers GROUP BY content)
                    SELECT s.segment_name, (SELECT count(*) FROM snapshots x WHERE x.segment_name = s.segment_name),
                           coalesce(sum(CASE WHEN sh.n = 1 THEN o.bytes END), 0), coalesce(sum(CASE WHEN sh.n > 1 THEN o.bytes END), 0)
                    FROM (SELECT DISTINCT segment_name FROM snapshots) s
                    LEFT JOIN readers r ON r.segment_name = s.segment_name
                    LEFT JOIN own o ON o.content = r.content
                    LEFT JOIN shared sh ON sh.content = r.content
                    GROUP BY s.segment_name ORDER BY s.segment_name
                    """).map { (name: $0[0] as String, snapshots: $0[1] as Int, uniqueBytes: $0[2] as Int, sharedBytes: $0[3] as Int) }
                let maps = try Row.fetchAll(db, sql: """
                    WITH own AS (\(own))
                    SELECT s.segment_name, h.fd, coalesce(st.name, ''), count(DISTINCT st.map_content),
                           (SELECT coalesce(sum(o.bytes), 0) FROM own o WHERE o.content IN (
                               SELECT st2.map_content FROM snapshots s2 JOIN snapshot_handlers h2 ON h2.snapshot = s2.id
                               JOIN handler_states st2 ON st2.id = h2.state
                               WHERE s2.segment_name = s.segment_name AND h2.fd = h.fd))
                    FROM snapshots s JOIN snapshot_handlers h ON h.snapshot = s.id
                    JOIN handler_states st ON st.id = h.state AND st.map_content IS NOT NULL
                    GROUP BY s.segment_name, h.fd ORDER BY s.segment_name, h.fd
                    """).map { (segment: $0[0] as String, fd: $0[1] as Int, name: $0[2] as String, contents: $0[3] as Int, entryBytes: $0[4] as Int) }
                return StorageUsage(fileBytes: total, freeBytes: free, segments: segments, maps: maps)
            }
        }
    }
}

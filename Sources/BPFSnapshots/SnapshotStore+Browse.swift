import BPFModel
import Foundation
import GRDB

/// One page of a stored map's entries, in key order (queue and stack maps: oldest first).
public struct MapEntryPage: Sendable {
    /// Entries in the whole map.
    public var total: Int
    /// Index of the first entry of `entries` in the whole map.
    public var offset: Int
    /// Keys as stored (a queue or stack position is 4 bytes, big-endian) and values (per-CPU: every CPU's, concatenated).
    public var entries: [(key: [UInt8], value: [UInt8])]
}

/// A map's stored entry count in one snapshot.
public struct MapEntryCount: Equatable, Sendable {
    public var snapshot: Int64
    public var fd: Int
    public var name: String?
    public var entries: Int
}

/// Reads for a browser: each costs what one page shows, not what the snapshot holds, so that a
/// million-entry map and a thousand snapshots stay quick to look at.
extension SnapshotStore {
    /// The snapshot's handlers without map contents, with each map's stored entry count.
    public func handlerSummaries(of id: Int64) throws -> [(record: HandlerRecord, entries: Int?)] {
        try withReadConnection { try $0.handlerSummaries(of: id) }
    }

    /// The handler at `fd` in snapshot `id` (map contents left out), `nil` when the snapshot has none there.
    public func handler(of id: Int64, fd: Int) throws -> HandlerRecord? {
        try withReadConnection { db in
            try Self.storedHandlers(db, snapshot: id).first { $0.fd == fd }?.record(db, withContents: false)
        }
    }

    /// Entries `offset ..< offset + limit` of the map at `fd` in snapshot `id`; `nil` when there is
    /// no map with stored contents at that fd. Chunks before the page are skipped by their stored
    /// entry counts; only those a layer changed (whose count may differ) and the page's own are read.
    public func mapEntries(of id: Int64, fd: Int, offset: Int, limit: Int) throws -> MapEntryPage? {
        try guarded {
            try pool.read { db in
                guard let content = try Self.mapContent(db, snapshot: id, fd: fd) else { return nil }
                let layout = try MapContentRows.layout(content, db.history)
                let list = try ChunkList.stored(content, db.history)
                let base = try Row.fetchAll(db, sql: """
                    SELECT k.hash, k.entry_count FROM map_content_chunks c JOIN chunks k ON k.id = c.chunk
                    WHERE c.content = ? ORDER BY c.seq
                    """, arguments: [layout.base ?? content])
                guard base.count == list.hashes.count else { throw SnapshotError.database("map contents \(content) changed while read") }
                var page = MapEntryPage(total: layout.count, offset: offset, entries: [])
                var skip = max(0, offset)
                for (p, row) in base.enumerated() where page.entries.count < limit {
                    let unchanged = list.hashes[p] == [UInt8](row[0] as Data)
                    if unchanged, skip >= row[1] as Int { skip -= row[1] as Int; continue }
                    let entries = try list.entries([p])
                    if skip >= entries.count { skip -= entries.count; continue }
                    for i in skip ..< min(entries.count, skip + limit - page.entries.count) {
                        page.entries.append((key: Array(entries.key(at: i)), value: Array(entries.value(at: i))))
                    }
                    skip = 0
                }
                return page
            }
        }
    }

    /// The value of `key` (as stored) in the map at `fd` of snapshot `id`, `nil` when absent.
    public func mapValue(of id: Int64, fd: Int, key: [UInt8]) throws -> [UInt8]? {
        try guarded {
            try pool.read { db in
                var finder = KeyFinder(key: key)
                return try Self.mapContent(db, snapshot: id, fd: fd).flatMap { try finder.value(in: $0, db) }
            }
        }
    }

    /// The value of `key` (as stored) in the map at `fd` of every snapshot of `segment`, oldest
    /// first; `nil` where the snapshot has no such map or the map no such key.
    public func keyValues(fd: Int, key: [UInt8], segment: String) throws -> [(snapshot: Int64, value: [UInt8]?)] {
        try guarded {
            try pool.read { db in
                let rows = try Row.fetchAll(db, sql: """
                    SELECT s.id, st.map_content FROM snapshots s
                    LEFT JOIN snapshot_handlers h ON h.snapshot = s.id AND h.fd = ?
                    LEFT JOIN handler_states st ON st.id = h.state
                    WHERE s.segment_name = ? ORDER BY s.id
                    """, arguments: [fd, segment])
                var finder = KeyFinder(key: key)
                var byContent: [Int64: [UInt8]?] = [:]
                return try rows.map { row in
                    let id: Int64 = row[0]
                    guard let content: Int64 = row[1] else { return (snapshot: id, value: nil) }
                    if let known = byContent[content] { return (snapshot: id, value: known) }
                    let value = try finder.value(in: content, db)
                    byContent[content] = value
                    return (snapshot: id, value: value)
                }
            }
        }
    }

    /// The entry count of every map with stored contents in the snapshots of `segment` whose
    /// ids lie in `ids`, by snapshot then fd.
    public func mapEntryCounts(segment: String, ids: ClosedRange<Int64>) throws -> [MapEntryCount] {
        try guarded {
            try pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT h.snapshot, h.fd, st.name, mc.entry_count FROM snapshots s
                    JOIN snapshot_handlers h ON h.snapshot = s.id
                    JOIN handler_states st ON st.id = h.state
                    JOIN map_contents mc ON mc.id = st.map_content
                    WHERE s.segment_name = ? AND s.id BETWEEN ? AND ? ORDER BY h.snapshot, h.fd
                    """, arguments: [segment, ids.lowerBound, ids.upperBound]).map { MapEntryCount(snapshot: $0[0], fd: $0[1], name: $0[2], entries: $0[3]) }
            }
        }
    }

    private static func mapContent(_ db: Database, snapshot: Int64, fd: Int) throws -> Int64? {
        _ = try storedHandlers(db.history, snapshot: snapshot)  // throws for an unknown snapshot
        return try Int64.fetchOne(db, sql: """
            SELECT st.map_content FROM snapshot_handlers h JOIN handler_states st ON st.id = h.state
            WHERE h.snapshot = ? AND h.fd = ?
            """, arguments: [snapshot, fd])
    }
}

/// Finds one key in stored contents: in a layered one's layers by the key, else in the base by
/// binary search over its chunks' first keys (chunks run in key order), so a lookup reads a
/// dozen rows instead of probing every chunk.
private struct KeyFinder {
    let key: [UInt8]
    /// First key of each chunk seen: contents of one map share most of their chunks.
    var firstKeys: [Int64: [UInt8]] = [:]

    mutating func value(in content: Int64, _ db: Database) throws -> [UInt8]? {
        let layout = try MapContentRows.layout(content, db.history)
        guard let base = layout.base else { return try baseValue(in: content, db) }
        // The newest layer that wrote the key decides (a NULL value: deleted); else the base.
        if let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT d.value FROM map_content_layers l JOIN map_content_deltas d ON d.content = l.layer
            WHERE l.content = ? AND d.key = ? ORDER BY l.depth DESC LIMIT 1
            """), arguments: [content, Data(key)]) {
            return (row[0] as Data?).map { [UInt8]($0) }
        }
        return try baseValue(in: base, db)
    }

    private mutating func baseValue(in content: Int64, _ db: Database) throws -> [UInt8]? {
        guard let last = try Int.fetchOne(db.cachedStatement(sql: "SELECT max(seq) FROM map_content_chunks WHERE content = ?"), arguments: [content]) else {
            return nil
        }
        // The last chunk whose first key is <= key is the only one that can hold it.
        var (low, high, found): (Int, Int, Int64?) = (0, last, nil)
        while low <= high {
            let middle = (low + high) / 2
            guard let chunk = try Int64.fetchOne(db.cachedStatement(sql: "SELECT chunk FROM map_content_chunks WHERE content = ? AND seq = ?"),
                                                 arguments: [content, middle]) else { throw SnapshotError.database("map contents \(content) lacks chunk \(middle)") }
            let first = try firstKey(of: chunk, db)
            if first.lexicographicallyPrecedes(key) || first == key {
                found = chunk
                low = middle + 1
            } else {
                high = middle - 1
            }
        }
        guard let found else { return nil }
        return try Data.fetchOne(db.cachedStatement(sql: "SELECT value FROM chunk_entries WHERE chunk = ? AND key = ?"), arguments: [found, Data(key)])
            .map { [UInt8]($0) }
    }

    private mutating func firstKey(of chunk: Int64, _ db: Database) throws -> [UInt8] {
        if let known = firstKeys[chunk] { return known }
        let first = try Data.fetchOne(db.cachedStatement(sql: "SELECT key FROM chunk_entries WHERE chunk = ? ORDER BY key LIMIT 1"), arguments: [chunk])
            .map { [UInt8]($0) } ?? []
        firstKeys[chunk] = first
        return first
    }
}

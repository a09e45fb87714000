import BPFModel
import Foundation

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

/// Reads for a browser, on any history: each costs what one page shows, not what the snapshot
/// holds, so that a million-entry map and a thousand snapshots stay quick to look at.
extension SQLConnection {
    /// The handler at `fd` in snapshot `id` (map contents left out), `nil` when the snapshot has none there.
    public func handler(of id: Int64, fd: Int) throws -> HandlerRecord? {
        try SnapshotStore.storedHandlers(self, snapshot: id).first { $0.fd == fd }?.record(self, withContents: false)
    }

    /// Entries `offset ..< offset + limit` of the map at `fd` in snapshot `id`; `nil` when there is
    /// no map with stored contents at that fd. Chunks before the page are skipped by their stored
    /// entry counts; only those a layer changed (whose count may differ) and the page's own are read.
    public func mapEntries(of id: Int64, fd: Int, offset: Int, limit: Int) throws -> MapEntryPage? {
        guard let content = try mapContent(snapshot: id, fd: fd) else { return nil }
        let layout = try MapContentRows.layout(content, self)
        let list = try ChunkList.stored(content, self)
        let base = try rows("""
            SELECT k.hash, k.entry_count FROM map_content_chunks c JOIN chunks k ON k.id = c.chunk
            WHERE c.content = $1 ORDER BY c.seq
            """, [.integer(layout.base ?? content)])
        guard base.count == list.hashes.count else { throw SnapshotError.database("map contents \(content) changed while read") }
        var page = MapEntryPage(total: layout.count, offset: offset, entries: [])
        var skip = max(0, offset)
        for (p, row) in base.enumerated() where page.entries.count < limit {
            let count = Int(row[1].integer ?? -1)
            if list.hashes[p] == row[0].blob, count >= 0, skip >= count { skip -= count; continue }
            let entries = try list.entries([p])
            if skip >= entries.count { skip -= entries.count; continue }
            for i in skip ..< min(entries.count, skip + limit - page.entries.count) {
                page.entries.append((key: Array(entries.key(at: i)), value: Array(entries.value(at: i))))
            }
            skip = 0
        }
        return page
    }

    /// The value of `key` (as stored) in the map at `fd` of snapshot `id`, `nil` when absent.
    public func mapValue(of id: Int64, fd: Int, key: [UInt8]) throws -> [UInt8]? {
        try mapContent(snapshot: id, fd: fd).flatMap {
            var lookup = KeyLookup(key: key, fd: fd)
            return try lookup.value(in: $0, self)
        }
    }

    /// The value of `key` (as stored) in the map at `fd` of every snapshot of `segment`, oldest
    /// first; `nil` where the snapshot has no such map or the map no such key.
    public func keyValues(fd: Int, key: [UInt8], segment: String) throws -> [(snapshot: Int64, value: [UInt8]?)] {
        let snapshots = try rows("""
            SELECT s.id, st.map_content FROM snapshots s
            LEFT JOIN snapshot_handlers h ON h.snapshot = s.id AND h.fd = $1
            LEFT JOIN handler_states st ON st.id = h.state
            WHERE s.segment_name = $2 ORDER BY s.id
            """, [.integer(Int64(fd)), .text(segment)])
        var lookup = KeyLookup(key: key, fd: fd)
        return try snapshots.map { row in
            (snapshot: row[0].integer ?? 0, value: try row[1].integer.flatMap { try lookup.value(in: $0, self) })
        }
    }

    /// The entry count of every map with stored contents in the snapshots of `segment` whose
    /// ids lie in `ids`, by snapshot then fd.
    public func mapEntryCounts(segment: String, ids: ClosedRange<Int64>) throws -> [MapEntryCount] {
        try rows("""
            SELECT h.snapshot, h.fd, st.name, mc.entry_count FROM snapshots s
            JOIN snapshot_handlers h ON h.snapshot = s.id
            JOIN handler_states st ON st.id = h.state
            JOIN map_contents mc ON mc.id = st.map_content
            WHERE s.segment_name = $1 AND s.id BETWEEN $2 AND $3 ORDER BY h.snapshot, h.fd
            """, [.text(segment), .integer(ids.lowerBound), .integer(ids.upperBound)]).map { row in
            MapEntryCount(snapshot: row[0].integer ?? 0, fd: Int(row[1].integer ?? 0), name: row[2].text, entries: Int(row[3].integer ?? 0))
        }
    }

    /// The stored contents of the map at `fd` in snapshot `id`; throws for an unknown snapshot.
    private func mapContent(snapshot id: Int64, fd: Int) throws -> Int64? {
        try SnapshotStore.storedHandlers(self, snapshot: id).first { $0.fd == fd }?.mapContent
    }
}

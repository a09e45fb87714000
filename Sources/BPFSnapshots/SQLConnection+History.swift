import BPFModel
import Foundation

/// One handler's and one key's history on any history (`snap log --fd`, `--key`, the browser's
/// key plots): the SQLite store forwards here.
extension SQLConnection {
    /// The snapshots, newest first (filtered as `log` does), where the handler at `fd` differs
    /// from the parent's: added, removed or changed.
    public func handlerHistory(fd: Int, segment: String? = nil, since: Date? = nil,
                               limit: Int? = nil) throws -> [(snapshot: SnapshotInfo, change: SnapshotDiff)] {
        // State ids are positive: -1 stands for "no handler at fd" on both engines.
        var arguments: [SQLValue] = [.integer(Int64(fd))]
        if let segment { arguments.append(.text(segment)) }
        let changed = Set(try rows("""
            SELECT s.id FROM snapshots s
            LEFT JOIN snapshot_handlers a ON a.snapshot = s.id AND a.fd = $1
            LEFT JOIN snapshot_handlers b ON b.snapshot = s.parent AND b.fd = $1
            WHERE coalesce(a.state, -1) <> coalesce(b.state, -1)\(segment == nil ? "" : " AND s.segment_name = $2")
            """, arguments).compactMap { $0.first?.integer })
        let shown = try log(segment: segment, since: since).filter { changed.contains($0.id) }.prefix(limit ?? .max)
        return try shown.map { ($0, try changes(of: $0.id, mapDetail: .counts, fds: [fd])) }
    }

    /// The changes of one key of the map at `fd`, newest first: each snapshot whose value
    /// (or absence) of `key` differs from its parent's. `key` is as stored (a queue or stack
    /// position is 4 bytes, big-endian).
    public func keyHistory(fd: Int, key: [UInt8], segment: String? = nil) throws -> [KeyChange] {
        var arguments: [SQLValue] = [.integer(Int64(fd))]
        if let segment { arguments.append(.text(segment)) }
        let snapshots = try rows("""
            SELECT s.id, s.parent, st.map_content FROM snapshots s
            LEFT JOIN snapshot_handlers h ON h.snapshot = s.id AND h.fd = $1
            LEFT JOIN handler_states st ON st.id = h.state
            \(segment == nil ? "" : "WHERE s.segment_name = $2") ORDER BY s.id
            """, arguments)
        var values: [Int64: [UInt8]?] = [:], byContent: [Int64: [UInt8]?] = [:]
        var changes: [KeyChange] = []
        for row in snapshots {
            guard let id = row[0].integer else { continue }
            let parent = row[1].integer
            var value: [UInt8]?
            if let content = row[2].integer {
                if let known = byContent[content] { value = known } else {
                    value = try MapContentRows.value(of: key, in: content, fd: fd, self)
                    byContent[content] = value
                }
            }
            values[id] = value
            let old = parent.flatMap { values[$0] ?? nil }
            if old != value { changes.append(KeyChange(snapshot: id, previous: parent, old: old, new: value)) }
        }
        return changes.reversed()
    }
}

extension MapContentRows {
    /// The value of `key` in stored contents, `nil` when absent: the newest layer that wrote
    /// it, else the base.
    static func value(of key: [UInt8], in content: Int64, fd: Int, _ db: any SQLConnection) throws -> [UInt8]? {
        let layout = try layout(content, db)
        guard key.count == layout.storedKeySize else {
            throw SnapshotError.wrongKeySize(fd: fd, given: key.count, expected: layout.storedKeySize)
        }
        if layout.base != nil, let row = try db.rows("""
            SELECT d.value FROM map_content_layers l JOIN map_content_deltas d ON d.content = l.layer AND d.key = $1
            WHERE l.content = $2 ORDER BY l.depth DESC LIMIT 1
            """, [.blob(key), .integer(content)]).first {
            return row[0].blob
        }
        return try db.rows("""
            SELECT e.value FROM map_content_chunks c JOIN chunk_entries e ON e.chunk = c.chunk AND e.key = $1 WHERE c.content = $2
            """, [.blob(key), .integer(layout.base ?? content)]).first?[0].blob
    }
}

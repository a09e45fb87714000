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
        var values: [Int64: [UInt8]?] = [:]
        var lookup = KeyLookup(key: key, fd: fd)
        var changes: [KeyChange] = []
        for row in snapshots {
            guard let id = row[0].integer else { continue }
            let parent = row[1].integer
            let value = try row[2].integer.flatMap { try lookup.value(in: $0, self) }
            values[id] = value
            let old = parent.flatMap { values[$0] ?? nil }
            if old != value { changes.append(KeyChange(snapshot: id, previous: parent, old: old, new: value)) }
        }
        return changes.reversed()
    }
}

/// One key looked up in stored contents, the many contents of one map across snapshots
/// included: in a contents' layers by the key (the newest layer that wrote it decides), else in
/// its base by binary search over the base's chunks' first keys. Answers are kept by contents
/// and by base: snapshots share contents, and the contents of one map share their base.
struct KeyLookup {
    let key: [UInt8]
    let fd: Int
    private var known: [Int64: [UInt8]?] = [:], inBase: [Int64: [UInt8]?] = [:]

    init(key: [UInt8], fd: Int) {
        self.key = key
        self.fd = fd
    }

    /// The value of the key in `content`, `nil` when absent.
    mutating func value(in content: Int64, _ db: any SQLConnection) throws -> [UInt8]? {
        if let value = known[content] { return value }
        let value = try lookUp(in: content, db)
        known[content] = value
        return value
    }

    private mutating func lookUp(in content: Int64, _ db: any SQLConnection) throws -> [UInt8]? {
        let layout = try MapContentRows.layout(content, db)
        guard key.count == layout.storedKeySize else {
            throw SnapshotError.wrongKeySize(fd: fd, given: key.count, expected: layout.storedKeySize)
        }
        return try MapContentRows.value(key, in: content, layout, db) {
            let base = layout.base ?? content
            if let known = inBase[base] { return known }
            let value = try BaseLookup.value(key, in: base, layout, db)
            inBase[base] = value
            return value
        }
    }
}

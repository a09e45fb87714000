import BPFModel
import Foundation
import GRDB

/// A map key's value in a snapshot against the snapshot before it of the same segment.
public struct KeyChange: Equatable, Sendable {
    public enum Kind: String, Sendable { case added, deleted, changed }
    public var snapshot: Int64
    public var previous: Int64?
    /// The value before (`nil`: the key, or the map, was absent) and after.
    public var old: [UInt8]?
    public var new: [UInt8]?

    public var kind: Kind { old == nil ? .added : new == nil ? .deleted : .changed }
}

extension SnapshotStore {
    /// Snapshots newest first: of one segment, taken at or after `since`, at most `limit`.
    public func log(segment: String? = nil, since: Date? = nil, limit: Int? = nil) throws -> [SnapshotInfo] {
        try withReadConnection { try $0.log(segment: segment, since: since, limit: limit) }
    }

    /// What snapshot `id` changed against its parent (see `SQLConnection.changes`).
    public func changes(of id: Int64, mapDetail: MapContentsDiff.Detail = .counts, fds: Set<Int>? = nil) throws -> SnapshotDiff {
        try withReadConnection { try $0.changes(of: id, mapDetail: mapDetail, fds: fds) }
    }

    /// The snapshots, newest first (filtered as `log` does), where the handler at `fd` differs
    /// from the parent's: added, removed or changed.
    public func handlerHistory(fd: Int, segment: String? = nil, since: Date? = nil,
                               limit: Int? = nil) throws -> [(snapshot: SnapshotInfo, change: SnapshotDiff)] {
        let changed = try guarded {
            try pool.read { db in
                try Int64.fetchSet(db, sql: """
                    SELECT s.id FROM snapshots s
                    LEFT JOIN snapshot_handlers a ON a.snapshot = s.id AND a.fd = ?
                    LEFT JOIN snapshot_handlers b ON b.snapshot = s.parent AND b.fd = ?
                    WHERE a.state IS NOT b.state
                    """, arguments: [fd, fd])
            }
        }
        let shown = try log(segment: segment, since: since).filter { changed.contains($0.id) }.prefix(limit ?? .max)
        return try shown.map { ($0, try changes(of: $0.id, mapDetail: .counts, fds: [fd])) }
    }

    /// The changes of one key of the map at `fd`, newest first: each snapshot whose value
    /// (or absence) of `key` differs from its parent's. `key` is as stored (a queue or stack
    /// position is 4 bytes, big-endian).
    public func keyHistory(fd: Int, key: [UInt8], segment: String? = nil) throws -> [KeyChange] {
        try guarded {
            try pool.read { db in
                let rows = try Row.fetchAll(db, sql: """
                    SELECT s.id, s.parent, st.map_content FROM snapshots s
                    LEFT JOIN snapshot_handlers h ON h.snapshot = s.id AND h.fd = ?
                    LEFT JOIN handler_states st ON st.id = h.state
                    WHERE ? IS NULL OR s.segment_name = ? ORDER BY s.id
                    """, arguments: [fd, segment, segment])
                var values: [Int64: [UInt8]?] = [:], byContent: [Int64: [UInt8]?] = [:]
                var changes: [KeyChange] = []
                for row in rows {
                    let id: Int64 = row[0], parent: Int64? = row[1], content: Int64? = row[2]
                    var value: [UInt8]?
                    if let content {
                        if let known = byContent[content] { value = known } else {
                            value = try MapContentRows.value(of: key, in: content, fd: fd, db)
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
    }
}

extension MapContentRows {
    /// The value of `key` in stored contents, `nil` when absent: the newest layer that wrote
    /// it, else the base.
    static func value(of key: [UInt8], in content: Int64, fd: Int, _ db: Database) throws -> [UInt8]? {
        let layout = try layout(content, db.history)
        guard key.count == layout.storedKeySize else {
            throw SnapshotError.wrongKeySize(fd: fd, given: key.count, expected: layout.storedKeySize)
        }
        if layout.base != nil, let row = try Row.fetchOne(db, sql: """
            SELECT d.value FROM map_content_layers l JOIN map_content_deltas d ON d.content = l.layer AND d.key = ?
            WHERE l.content = ? ORDER BY l.depth DESC LIMIT 1
            """, arguments: [Data(key), content]) {
            return (row[0] as Data?).map { [UInt8]($0) }
        }
        return try Data.fetchOne(db, sql: """
            SELECT e.value FROM map_content_chunks c JOIN chunk_entries e ON e.chunk = c.chunk AND e.key = ? WHERE c.content = ?
            """, arguments: [Data(key), layout.base ?? content]).map { [UInt8]($0) }
    }
}

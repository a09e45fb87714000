import Foundation

/// One segment of a history, as a timeline outlines it.
public struct SegmentSummary: Equatable, Sendable {
    public var segmentName: String
    /// How many snapshots it has, the newest one's id, and the hosts that recorded them.
    public var snapshots: Int
    public var newest: Int64
    public var hosts: [String]
}

/// `snap list` on any history, filtered by host and segment: the fleet's question. The SQLite
/// store lists through this too.
extension SQLConnection {
    /// Snapshots oldest first; of one host and one segment when given; the newest `limit`
    /// (of those before snapshot `before`, when given: a page back); or only snapshot `id`.
    public func snapshotInfos(host: String? = nil, segment: String? = nil, limit: Int? = nil, before: Int64? = nil,
                              id: Int64? = nil) throws -> [SnapshotInfo] {
        var conditions: [String] = [], arguments: [SQLValue] = []
        for (condition, value) in [("s.host =", host.map(SQLValue.text)), ("s.segment_name =", segment.map(SQLValue.text)),
                                   ("s.id <", before.map(SQLValue.integer)), ("s.id =", id.map(SQLValue.integer))] {
            guard let value else { continue }
            arguments.append(value)
            conditions.append("\(condition) $\(arguments.count)")
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let newest = limit.map { "ORDER BY s.id DESC LIMIT \(max(0, $0))" } ?? ""
        let rows = try rows("""
            SELECT s.id, s.created_at, s.segment_name, s.host, s.generation, s.message, s.parent,
                   (SELECT count(*) FROM snapshot_handlers h WHERE h.snapshot = s.id),
                   s.command, s.user_name, s.uid, s.pid, s.tool_version, s.restored_snapshot, s.undo_snapshot,
                   r.snapshot, r.fds, r.restored_at
            FROM snapshots s LEFT JOIN restores r ON r.undo_snapshot = s.id \(filter) \(newest)
            """, arguments)
        let ids = rows.compactMap { $0[0].integer }
        var tags: [Int64: [String]] = [:]
        for batch in ids.chunked(500) {
            for row in try self.rows("SELECT snapshot, name FROM tags WHERE snapshot IN (\(Self.placeholders(batch.count))) ORDER BY name",
                                     batch.map { .integer($0) }) {
                tags[row[0].integer ?? 0, default: []].append(row[1].text ?? "")
            }
        }
        let format = Self.timeFormat
        func time(_ value: SQLValue, of id: Int64) throws -> Date {
            guard let text = value.text, let date = format.date(from: text) else {
                throw SnapshotError.damaged("snapshot \(id) has an unreadable time")
            }
            return date
        }
        return try rows.map { row in
            let id = row[0].integer ?? 0
            let provenance = row[8].text.map { command in
                Provenance(command: command, user: row[9].text ?? "", uid: UInt32(truncatingIfNeeded: row[10].integer ?? 0),
                           pid: Int32(truncatingIfNeeded: row[11].integer ?? 0), toolVersion: row[12].text ?? "",
                           restoredSnapshot: row[13].integer, undoSnapshot: row[14].integer)
            }
            let undoOf = try row[15].integer.map { snapshot in
                guard let fds = try? AttributeObject.fds(row[16].text ?? "") else {
                    throw SnapshotError.damaged("restore record of snapshot \(id) has unreadable fds")
                }
                return RestoreSummary(snapshot: snapshot, fds: fds, restoredAt: try time(row[17], of: id))
            }
            return SnapshotInfo(id: id, createdAt: try time(row[1], of: id), segmentName: row[2].text ?? "", host: row[3].text ?? "",
                                generation: UInt64(bitPattern: row[4].integer ?? 0), message: row[5].text, tags: tags[id] ?? [],
                                parent: row[6].integer, handlerCount: Int(row[7].integer ?? 0), undoOf: undoOf, provenance: provenance)
        }.sorted { $0.id < $1.id }
    }

    /// Each segment's snapshot count, newest snapshot and hosts, newest segment first (only
    /// `segment`'s when given): a timeline's outline in one grouped query, without listing the history.
    public func segmentSummaries(segment: String? = nil) throws -> [SegmentSummary] {
        let filter = segment == nil ? "" : "WHERE segment_name = $1"
        var summaries: [String: SegmentSummary] = [:]
        for row in try rows("""
            SELECT segment_name, host, count(*), max(id) FROM snapshots \(filter) GROUP BY segment_name, host
            """, segment.map { [.text($0)] } ?? []) {
            let name = row[0].text ?? ""
            var summary = summaries[name] ?? SegmentSummary(segmentName: name, snapshots: 0, newest: 0, hosts: [])
            summary.snapshots += Int(row[2].integer ?? 0)
            summary.newest = max(summary.newest, row[3].integer ?? 0)
            summary.hosts.append(row[1].text ?? "")
            summaries[name] = summary
        }
        return summaries.values.map { var s = $0; s.hosts.sort(); return s }.sorted { $0.newest > $1.newest }
    }

    /// `YYYY-MM-DD HH:MM:SS.SSS` in UTC, as both histories store times.
    static var timeFormat: DateFormatter {
        let format = DateFormatter()
        format.locale = Locale(identifier: "en_US_POSIX")
        format.timeZone = TimeZone(identifier: "UTC")
        format.dateFormat = "yyyy-MM-dd HH:mm:ss.SSS"
        return format
    }
}

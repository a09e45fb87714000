import Foundation

/// `snap list` on any history, filtered by host and segment: the fleet's question.
extension SQLConnection {
    /// Snapshots oldest first; of one host and one segment when given; the newest `limit`.
    public func snapshotInfos(host: String? = nil, segment: String? = nil, limit: Int? = nil) throws -> [SnapshotInfo] {
        var conditions: [String] = [], arguments: [SQLValue] = []
        for (column, value) in [("host", host), ("segment_name", segment)] {
            guard let value else { continue }
            arguments.append(.text(value))
            conditions.append("s.\(column) = $\(arguments.count)")
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let newest = limit.map { "ORDER BY s.id DESC LIMIT \(max(0, $0))" } ?? ""
        let rows = try rows("""
            SELECT s.id, s.created_at, s.segment_name, s.host, s.generation, s.message, s.parent,
                   (SELECT count(*) FROM snapshot_handlers h WHERE h.snapshot = s.id),
                   s.command, s.user_name, s.uid, s.pid, s.tool_version
            FROM snapshots s \(filter) \(newest)
            """, arguments)
        let ids = rows.compactMap { $0[0].integer }
        var tags: [Int64: [String]] = [:]
        for batch in ids.chunked(500) {
            for row in try self.rows("SELECT snapshot, name FROM tags WHERE snapshot IN (\(Self.placeholders(batch.count))) ORDER BY name",
                                     batch.map { .integer($0) }) {
                tags[row[0].integer ?? 0, default: []].append(row[1].text ?? "")
            }
        }
        return try rows.map { row in
            let id = row[0].integer ?? 0
            guard let time = row[1].text, let createdAt = Self.timeFormat.date(from: time) else {
                throw SnapshotError.damaged("snapshot \(id) has an unreadable time")
            }
            let provenance = row[8].text.map { command in
                Provenance(command: command, user: row[9].text ?? "", uid: UInt32(truncatingIfNeeded: row[10].integer ?? 0),
                           pid: Int32(truncatingIfNeeded: row[11].integer ?? 0), toolVersion: row[12].text ?? "")
            }
            return SnapshotInfo(id: id, createdAt: createdAt, segmentName: row[2].text ?? "", host: row[3].text ?? "",
                                generation: UInt64(bitPattern: row[4].integer ?? 0), message: row[5].text, tags: tags[id] ?? [],
                                parent: row[6].integer, handlerCount: Int(row[7].integer ?? 0), provenance: provenance)
        }.sorted { $0.id < $1.id }
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

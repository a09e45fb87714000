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
        // The handler count is the view's: PostgreSQL keeps it in the snapshot's row (its 0003),
        // SQLite counts it.
        let rows = try rows("""
            SELECT s.id, s.created_at, s.segment_name, s.host, s.generation, s.message, s.parent, l.handlers,
                   s.command, s.user_name, s.uid, s.pid, s.tool_version, s.restored_snapshot, s.undo_snapshot,
                   r.snapshot, r.fds, r.restored_at
            FROM snapshots s JOIN snapshot_list l ON l.id = s.id LEFT JOIN restores r ON r.undo_snapshot = s.id \(filter) \(newest)
            """, arguments)
        // The tags of the snapshots the filter selects (a few more than `limit` keeps, at most):
        // one statement, where a list of ids would be sent in batches.
        var tags: [Int64: [String]] = [:]
        for row in try self.rows("SELECT s.id, t.name FROM tags t JOIN snapshots s ON s.id = t.snapshot \(filter) ORDER BY t.name", arguments) {
            tags[row[0].integer ?? 0, default: []].append(row[1].text ?? "")
        }
        let format = Self.timeFormat
        func time(_ value: SQLValue, of id: Int64) throws -> Date {
            guard let text = value.text, let date = Self.parseTime(text) ?? format.date(from: text) else {
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
    /// A stored time (`2026-11-30 16:40:01.123`, UTC) parsed by hand: a listing parses
    /// thousands, and a DateFormatter takes longer over them than the query behind them
    /// (it stays the fallback for any other form).
    static func parseTime(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 23, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: " "),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"), bytes[19] == UInt8(ascii: ".") else { return nil }
        func number(_ range: Range<Int>) -> Int32? {
            var n: Int32 = 0
            for b in bytes[range] {
                guard (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(b) else { return nil }
                n = n * 10 + Int32(b - UInt8(ascii: "0"))
            }
            return n
        }
        guard let year = number(0 ..< 4), let month = number(5 ..< 7), let day = number(8 ..< 10), let hour = number(11 ..< 13),
              let minute = number(14 ..< 16), let second = number(17 ..< 19), let millis = number(20 ..< 23),
              (1 ... 12).contains(month), (1 ... 31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var t = tm()
        t.tm_year = year - 1900
        t.tm_mon = month - 1
        t.tm_mday = day
        t.tm_hour = hour
        t.tm_min = minute
        t.tm_sec = second
        return Date(timeIntervalSince1970: Double(timegm(&t)) + Double(millis) / 1000)
    }

    /// `date` as a stored time (`2026-11-30 16:40:01.123`, UTC, milliseconds truncated),
    /// written by hand: a DateFormatter's first use costs more than a recorded change's SQL.
    static func storedTime(_ date: Date) -> String {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(millis >= 0 ? millis / 1000 : (millis - 999) / 1000)
        let fraction = Int32(millis - Int64(seconds) * 1000)
        var t = tm()
        gmtime_r(&seconds, &t)
        func digits(_ value: Int32, _ count: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, count - text.count)) + text
        }
        return "\(digits(t.tm_year + 1900, 4))-\(digits(t.tm_mon + 1, 2))-\(digits(t.tm_mday, 2)) "
            + "\(digits(t.tm_hour, 2)):\(digits(t.tm_min, 2)):\(digits(t.tm_sec, 2)).\(digits(fraction, 3))"
    }

    static var timeFormat: DateFormatter {
        let format = DateFormatter()
        format.locale = Locale(identifier: "en_US_POSIX")
        format.timeZone = TimeZone(identifier: "UTC")
        format.dateFormat = "yyyy-MM-dd HH:mm:ss.SSS"
        return format
    }
}

import Foundation

/// Which snapshots `snap prune` keeps, as restic's `forget` decides: each segment's snapshots
/// apart, newest first; a snapshot is kept if any rule keeps it. `keepLast` keeps the newest n;
/// `keepHourly`/`keepDaily` keep the newest snapshot of each of the last n hours/days (UTC) that
/// have one; snapshots newer than `olderThan` are never removed, nor tagged ones unless
/// `includeTagged`.
public struct RetentionPolicy: Equatable, Sendable {
    public var keepLast: Int?
    public var keepHourly: Int?
    public var keepDaily: Int?
    public var olderThan: TimeInterval?
    public var includeTagged: Bool

    public init(keepLast: Int? = nil, keepHourly: Int? = nil, keepDaily: Int? = nil, olderThan: TimeInterval? = nil,
                includeTagged: Bool = false) {
        self.keepLast = keepLast
        self.keepHourly = keepHourly
        self.keepDaily = keepDaily
        self.olderThan = olderThan
        self.includeTagged = includeTagged
    }

    /// A policy without any rule would remove everything.
    public var isEmpty: Bool { keepLast == nil && keepHourly == nil && keepDaily == nil && olderThan == nil }

    /// Each snapshot with the reasons it is kept; no reason: it goes.
    public func decide(_ snapshots: [SnapshotInfo], now: Date = Date()) -> [(snapshot: SnapshotInfo, reasons: [String])] {
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC") ?? utc.timeZone
        let groups = Dictionary(grouping: snapshots, by: \.segmentName)
        var reasons: [Int64: [String]] = [:]
        for group in groups.values {
            let newest = group.sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }
            var hours: [DateComponents] = [], days: [DateComponents] = []
            for (n, s) in newest.enumerated() {
                var why: [String] = []
                if let keepLast, n < keepLast { why.append("last \(keepLast)") }
                let hour = utc.dateComponents([.year, .month, .day, .hour], from: s.createdAt)
                if let keepHourly, hours.count < keepHourly, hours.last != hour {
                    hours.append(hour)
                    why.append("hourly \(hours.count)")
                }
                let day = utc.dateComponents([.year, .month, .day], from: s.createdAt)
                if let keepDaily, days.count < keepDaily, days.last != day {
                    days.append(day)
                    why.append("daily \(days.count)")
                }
                if let olderThan, s.createdAt > now.addingTimeInterval(-olderThan) { why.append("newer than the limit") }
                if !includeTagged, !s.tags.isEmpty { why.append("tagged") }
                reasons[s.id] = why
            }
        }
        return snapshots.sorted { $0.id > $1.id }.map { ($0, reasons[$0.id] ?? []) }
    }
}

import BPFModel
import Foundation
import GRDB

extension SnapshotStore {
    /// Diffs two stored snapshots without loading what they share (see `SQLConnection.diff`).
    public func diff(_ a: Int64, _ b: Int64, mapDetail: MapContentsDiff.Detail = .entries, fds: Set<Int>? = nil) throws -> SnapshotDiff {
        try withReadConnection { try $0.diff(a, b, mapDetail: mapDetail, fds: fds) }
    }

    /// Diffs a stored snapshot against a live handler table the same way: live handlers are
    /// hashed as a save would, and only stored chunks the live maps lack are read. Changed map
    /// handlers come with `contents == nil`, as in the diff of two snapshots.
    public func diff(_ a: Int64, live: [HandlerRecord], mapDetail: MapContentsDiff.Detail = .entries) throws -> SnapshotDiff {
        let new = try Self.byFD(live)
        let prepared = try prepare(live)
        return try withReadConnection { db in
                try Self.diff(db, from: a, to: Set(new.keys), only: nil, loadNew: { new[$0] }) { old, fd in
                    guard let record = new[fd], let state = prepared[fd], Self.differs(old, state) else { return nil }
                    var mapChanges = MapContentsDiff()
                    if let x = old.mapContent, let chunks = try state.chunks() {
                        mapChanges = try ChunkList.diff(.stored(x, db), .live(chunks), detail: mapDetail)
                    }
                    var stripped = record
                    if case .map(var m) = record.handler {
                        m.contents = nil
                        stripped.handler = .map(m)
                    }
                    return SnapshotDiffer.change(try old.record(db, withContents: false), stripped, mapChanges: mapChanges)
                }
        }
    }

    /// The fds on both sides whose handlers differ, by the comparison `diff(_:live:)` makes,
    /// without loading what is only on one side: what a restore replaces.
    public func changedFDs(_ a: Int64, live: [HandlerRecord]) throws -> Set<Int> {
        guard !live.isEmpty else { return [] }  // a new segment: nothing on both sides
        let prepared = try prepare(live)
        return try withReadConnection { db in
            Set(try Self.storedHandlers(db, snapshot: a).filter { old in prepared[old.fd].map { Self.differs(old, $0) } ?? false }.map(\.fd))
        }
    }

    /// A stored handler and a live one differ when their states hash differently (maps by
    /// their sorted entries, not the order the segment lists them in).
    private static func differs(_ stored: StoredHandler, _ live: PreparedState) -> Bool { stored.hash != live.hash }

    private static func byFD(_ live: [HandlerRecord]) throws -> [Int: HandlerRecord] {
        var byFD: [Int: HandlerRecord] = [:]
        for record in live where byFD.updateValue(record, forKey: record.fd) != nil {
            throw SnapshotError.invalidRecord(fd: record.fd, reason: "two handlers at the same fd")
        }
        return byFD
    }

    /// Live handlers hashed as a save would, by fd.
    private func prepare(_ live: [HandlerRecord]) throws -> [Int: PreparedState] {
        _ = try Self.byFD(live)
        let states = try guarded { try PreparedState.prepare(live.sorted { $0.fd < $1.fd }, pool) }
        return Dictionary(uniqueKeysWithValues: states.map { ($0.fd, $0) })
    }

    /// Walks the fds of snapshot `a` and of the other side (all, or those in `only`): removed,
    /// added, and whatever `change` makes of fds on both sides (`nil` when equal).
    static func diff(_ db: any SQLConnection, from a: Int64, to newFDs: Set<Int>, only: Set<Int>?, loadNew: (Int) throws -> HandlerRecord?,
                             change: (StoredHandler, Int) throws -> HandlerChange?) throws -> SnapshotDiff {
        WorkProgress.current?.begin("comparing with snapshot \(a)", total: 0)
        let old = Dictionary(uniqueKeysWithValues: try storedHandlers(db, snapshot: a).map { ($0.fd, $0) })
        var diff = SnapshotDiff()
        for fd in Set(old.keys).union(newFDs).sorted() where only?.contains(fd) ?? true {
            if let o = old[fd] {
                if !newFDs.contains(fd) {
                    diff.removed.append(try o.record(db, withContents: true))
                } else if let c = try change(o, fd) {
                    diff.changed.append(c)
                }
            } else if let n = try loadNew(fd) {
                diff.added.append(n)
            }
        }
        return diff
    }
}

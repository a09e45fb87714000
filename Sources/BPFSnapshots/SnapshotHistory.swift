import BPFModel
import Foundation

/// A history the commands read, save into, tag and prune, whatever its engine: the SQLite store
/// (`SnapshotStore`) or a PostgreSQL database (`BPFFleet`'s `PostgresHistory`, which gets every
/// operation from the `SQLConnection` extensions; the SQLite store runs the same ones, except
/// where it has a faster way of its own: its save writes layers, its diff against a live table
/// knows map contents by fingerprint).
public protocol SnapshotHistory: AnyObject {
    /// Records `records` as a new snapshot in one transaction, unless `unlessUnchanged` and the
    /// segment's latest snapshot holds exactly these handlers (then that one's id, nothing
    /// written). With `restoring`, the snapshot is the undo of that restore, recorded with it;
    /// `beforeCommit` runs inside the open transaction with the new id, and throwing from it
    /// rolls the whole save back.
    func saveSnapshot(_ records: [HandlerRecord], meta: SnapshotMeta, restoring: RestoreEntry?, unlessUnchanged: Bool,
                      beforeCommit: ((Int64) throws -> Void)?) throws -> SaveOutcome
    /// An id, a tag or `latest`, with `~N` and `HOST:` (see `SQLConnection.resolve`).
    func resolve(_ reference: String) throws -> Int64
    /// Names snapshot `id` with `tag`; a tag naming another snapshot is refused unless `move`.
    func tag(_ id: Int64, _ tag: String, move: Bool) throws
    /// Deletes a tag (the snapshot stays).
    func untag(_ tag: String) throws
    /// Deletes a snapshot; its children take its parent.
    func remove(_ id: Int64) throws
    /// Deletes these snapshots in one transaction.
    func remove(_ ids: [Int64]) throws
    /// Deletes, in one transaction, the stored content no snapshot uses; how many blobs and
    /// chunks went.
    func collectGarbage() throws -> (blobs: Int, chunks: Int)
    /// Lets the engine take back the space deleted rows held (SQLite: VACUUM, which shrinks the
    /// file; PostgreSQL: VACUUM of the content tables, which makes it reusable).
    func vacuum() throws
    /// The space the history takes, as its engine measures it.
    func space() throws -> StorageUsage.Space
    /// What takes that space: each segment's and each map's share.
    func usage() throws -> StorageUsage

    /// Runs `body` on one consistent view of the history as an `SQLConnection` (whatever
    /// commits meanwhile), for reads the protocol does not name: a browser's pages.
    func withReadConnection<T>(_ body: (any SQLConnection) throws -> T) throws -> T
    /// Snapshot `id`'s metadata.
    func info(_ id: Int64) throws -> SnapshotInfo
    /// Snapshots newest first: of one segment, taken at or after `since`, at most `limit`.
    func log(segment: String?, since: Date?, limit: Int?) throws -> [SnapshotInfo]
    /// The snapshot's full handler table, by fd, map contents included.
    func records(of id: Int64) throws -> [HandlerRecord]
    /// The snapshot's handlers without map contents, with each map's stored entry count.
    func handlerSummaries(of id: Int64) throws -> [(record: HandlerRecord, entries: Int?)]
    /// What changed from snapshot `a` to snapshot `b` (of `fds` only, when given).
    func diff(_ a: Int64, _ b: Int64, mapDetail: MapContentsDiff.Detail, fds: Set<Int>?) throws -> SnapshotDiff
    /// What changed from snapshot `a` to the live handler table `live`.
    func diff(_ a: Int64, live: [HandlerRecord], mapDetail: MapContentsDiff.Detail) throws -> SnapshotDiff
    /// The fds on both sides whose handlers differ (by content hash): what a restore replaces.
    func changedFDs(_ a: Int64, live: [HandlerRecord]) throws -> Set<Int>
    /// What snapshot `id` changed against its parent.
    func changes(of id: Int64, mapDetail: MapContentsDiff.Detail, fds: Set<Int>?) throws -> SnapshotDiff
    /// The snapshots, newest first, where the handler at `fd` changed.
    func handlerHistory(fd: Int, segment: String?, since: Date?, limit: Int?) throws -> [(snapshot: SnapshotInfo, change: SnapshotDiff)]
    /// The changes of one key of the map at `fd`, newest first.
    func keyHistory(fd: Int, key: [UInt8], segment: String?) throws -> [KeyChange]
}

extension SnapshotHistory {
    /// What restoring snapshot `id` onto the live table `live` changes, and the snapshot's
    /// handlers: the fds that differ are the ones a diff against the live table reports
    /// (`changedFDs`), so that a restore replaces exactly what a diff shows.
    public func restorePlan(_ id: Int64, live: [HandlerRecord], onlyFDs: Set<Int>?, withDependencies: Bool,
                            allowingDanglingAttachments: Bool = false) throws -> (target: [HandlerRecord], plan: RestorePlan) {
        let target = try records(of: id)
        let plan = try RestorePlanner.plan(target: target, current: live, changed: changedFDs(id, live: live),
                                           onlyFDs: onlyFDs, withDependencies: withDependencies,
                                           allowingDanglingAttachments: allowingDanglingAttachments)
        return (target, plan)
    }

    /// Records `records` as a new snapshot and returns its id (ids are never reused).
    public func save(_ records: [HandlerRecord], meta: SnapshotMeta, restoring: RestoreEntry? = nil,
                     beforeCommit: ((Int64) throws -> Void)? = nil) throws -> Int64 {
        try saveSnapshot(records, meta: meta, restoring: restoring, unlessUnchanged: false, beforeCommit: beforeCommit).id
    }

    /// `save`, unless the segment's latest snapshot holds exactly these handlers (then that
    /// snapshot's id, and nothing is written): the cost of an unchanged save, no new row.
    public func saveIfChanged(_ records: [HandlerRecord], meta: SnapshotMeta) throws -> SaveOutcome {
        try saveSnapshot(records, meta: meta, restoring: nil, unlessUnchanged: true, beforeCommit: nil)
    }
}

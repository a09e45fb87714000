import BPFModel
import BPFSnapshots
import Foundation

/// A PostgreSQL history as the commands' store: it saves, tags and removes through the
/// `SQLConnection` extensions, and runs each read there inside `consistentRead`, so that a read
/// of a snapshot (its handlers, then their contents, chunk by chunk) sees one state of the
/// history whatever commits meanwhile. (The SQLite store reads from one WAL snapshot already.)
extension PostgresHistory: SnapshotHistory {
    private var shared: any SQLConnection { self }

    public func withReadConnection<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        try consistentRead { try body(self) }
    }

    public func resolve(_ reference: String) throws -> Int64 {
        try consistentRead { try shared.resolve(reference) }
    }

    public func info(_ id: Int64) throws -> SnapshotInfo {
        try consistentRead { try shared.info(id) }
    }

    public func log(segment: String?, since: Date?, limit: Int?) throws -> [SnapshotInfo] {
        try consistentRead { try shared.log(segment: segment, since: since, limit: limit) }
    }

    public func records(of id: Int64) throws -> [HandlerRecord] {
        try consistentRead { try shared.records(of: id) }
    }

    public func handlerSummaries(of id: Int64) throws -> [(record: HandlerRecord, entries: Int?)] {
        try consistentRead { try shared.handlerSummaries(of: id) }
    }

    public func diff(_ a: Int64, _ b: Int64, mapDetail: MapContentsDiff.Detail, fds: Set<Int>?) throws -> SnapshotDiff {
        try consistentRead { try shared.diff(a, b, mapDetail: mapDetail, fds: fds) }
    }

    public func diff(_ a: Int64, live: [HandlerRecord], mapDetail: MapContentsDiff.Detail) throws -> SnapshotDiff {
        try consistentRead { try shared.diff(a, live: live, mapDetail: mapDetail) }
    }

    public func changedFDs(_ a: Int64, live: [HandlerRecord]) throws -> Set<Int> {
        try consistentRead { try shared.changedFDs(a, live: live) }
    }

    public func changes(of id: Int64, mapDetail: MapContentsDiff.Detail, fds: Set<Int>?) throws -> SnapshotDiff {
        try consistentRead { try shared.changes(of: id, mapDetail: mapDetail, fds: fds) }
    }

    public func handlerHistory(fd: Int, segment: String?, since: Date?, limit: Int?) throws -> [(snapshot: SnapshotInfo, change: SnapshotDiff)] {
        try consistentRead { try shared.handlerHistory(fd: fd, segment: segment, since: since, limit: limit) }
    }

    public func keyHistory(fd: Int, key: [UInt8], segment: String?) throws -> [KeyChange] {
        try consistentRead { try shared.keyHistory(fd: fd, key: key, segment: segment) }
    }
}

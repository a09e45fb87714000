import BPFModel
import Foundation

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

    /// The snapshots where the handler at `fd` changed (see `SQLConnection.handlerHistory`).
    public func handlerHistory(fd: Int, segment: String? = nil, since: Date? = nil,
                               limit: Int? = nil) throws -> [(snapshot: SnapshotInfo, change: SnapshotDiff)] {
        try withReadConnection { try $0.handlerHistory(fd: fd, segment: segment, since: since, limit: limit) }
    }

    /// The changes of one key of the map at `fd` (see `SQLConnection.keyHistory`).
    public func keyHistory(fd: Int, key: [UInt8], segment: String? = nil) throws -> [KeyChange] {
        try withReadConnection { try $0.keyHistory(fd: fd, key: key, segment: segment) }
    }
}

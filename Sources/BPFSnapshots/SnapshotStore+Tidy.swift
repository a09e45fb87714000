import BPFModel
import Foundation
import GRDB

/// What the history holds, for `snap du`.
public struct StorageUsage: Equatable, Sendable {
    /// The space the history takes, as its engine measures it.
    public struct Space: Equatable, Sendable {
        /// What `bytes` measures, for the report: `file` (SQLite) or `tables` (PostgreSQL's, with
        /// their indexes and TOAST).
        public var kind: String
        public var bytes: Int
        /// Bytes of that held free; `nil` where the engine does not tell (PostgreSQL reuses the
        /// space of deleted rows itself).
        public var freeBytes: Int?

        public init(kind: String, bytes: Int, freeBytes: Int?) {
            self.kind = kind
            self.bytes = bytes
            self.freeBytes = freeBytes
        }
    }

    public var space: Space
    /// Per segment: snapshots, and bytes of map entries only its snapshots use (`unique`) or
    /// that other segments' snapshots use too (`shared`), estimated from entry sizes.
    public var segments: [(name: String, snapshots: Int, uniqueBytes: Int, sharedBytes: Int)]
    /// Per map (segment, fd, name): distinct contents its snapshots hold, and the entry bytes
    /// those store themselves (a base's entries, a layer's changes).
    public var maps: [(segment: String, fd: Int, name: String, contents: Int, entryBytes: Int)]

    public static func == (a: StorageUsage, b: StorageUsage) -> Bool {
        a.space == b.space && a.segments.map { "\($0)" } == b.segments.map { "\($0)" } && a.maps.map { "\($0)" } == b.maps.map { "\($0)" }
    }
}

extension SnapshotStore {
    /// Deletes these snapshots in one transaction (see `SQLConnection.remove`).
    public func remove(_ ids: [Int64]) throws {
        try withConnection { try $0.remove(ids) }
    }

    /// The file's size, after checkpointing the WAL into it.
    public func fileBytes() throws -> (total: Int, free: Int) {
        try guarded {
            try pool.writeWithoutTransaction { db in
                try db.checkpoint(.truncate)
                let size = try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 0
                return (size * (try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0),
                        size * (try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0))
            }
        }
    }

    /// The file's size and free pages.
    public func space() throws -> StorageUsage.Space {
        let (total, free) = try fileBytes()
        return StorageUsage.Space(kind: "file", bytes: total, freeBytes: free)
    }

    /// Gives the free pages back to the file system (VACUUM: rewrites the file, so it waits for
    /// every reader and needs as much free disk as the file holds).
    public func vacuum() throws {
        try guarded {
            WorkProgress.current?.begin("rewriting the file (VACUUM)", total: 0)
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "VACUUM")
                try db.checkpoint(.truncate)
            }
        }
    }

    /// What the file holds (see `SQLConnection.storageUsage`).
    public func usage() throws -> StorageUsage {
        let space = try space()
        return try withReadConnection { try $0.storageUsage(space) }
    }
}

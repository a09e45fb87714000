import BPFModel
import Foundation
import GRDB

/// What a snapshot records about where its state came from.
public struct SnapshotMeta: Equatable, Sendable {
    public var segmentName: String
    public var host: String
    public var generation: UInt64
    public var message: String?
    public var tags: [String]

    public init(segmentName: String, host: String, generation: UInt64, message: String? = nil, tags: [String] = []) {
        self.segmentName = segmentName
        self.host = host
        self.generation = generation
        self.message = message
        self.tags = tags
    }
}

extension SnapshotStore {
    /// Records `records` as a new snapshot, in one transaction, and returns its id. Content
    /// already in the store (same instructions, same map chunks, same handler) is referenced,
    /// not copied, so saving an unchanged segment adds one small row per handler.
    public func save(_ records: [HandlerRecord], meta: SnapshotMeta) throws -> Int64 {
        try save(records, meta: meta, beforeCommit: nil)
    }

    /// `beforeCommit` runs inside the transaction, after everything is written: tests use it to
    /// fail a save at its last moment.
    func save(_ records: [HandlerRecord], meta: SnapshotMeta, beforeCommit: (() throws -> Void)?) throws -> Int64 {
        for tag in meta.tags { try Self.validateTag(tag) }
        var seen = Set<Int>()
        for record in records where !seen.insert(record.fd).inserted {
            throw SnapshotError.invalidRecord(fd: record.fd, reason: "two handlers at the same fd")
        }
        // Sorting and hashing happen before taking the write lock.
        let states = try guarded { try PreparedState.prepare(records.sorted { $0.fd < $1.fd }, pool) }
        return try guarded {
            try pool.write { db in
                let parent = try Int64.fetchOne(
                    db, sql: "SELECT max(id) FROM snapshots WHERE segment_name = ?", arguments: [meta.segmentName])
                try db.execute(
                    sql: """
                        INSERT INTO snapshots (created_at, segment_name, host, generation, message, parent)
                        VALUES (?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [Date(), meta.segmentName, meta.host, Int64(bitPattern: meta.generation), meta.message, parent])
                let id = db.lastInsertedRowID
                for tag in meta.tags { try Self.insertTag(db, tag, snapshot: id) }
                let insertHandler = try db.cachedStatement(
                    sql: "INSERT INTO snapshot_handlers (snapshot, fd, state) VALUES (?, ?, ?)")
                for state in states {
                    try insertHandler.execute(arguments: [id, state.fd, try state.store(db, parent: parent)])
                }
                try beforeCommit?()
                return id
            }
        }
    }

    static func validateTag(_ tag: String) throws {
        guard !tag.isEmpty, Int64(tag) == nil, !tag.contains(where: { $0.isWhitespace || $0.isNewline }),
              SnapshotReference.isPlainName(tag) else {
            throw SnapshotError.invalidTag(tag)
        }
    }

    static func insertTag(_ db: Database, _ tag: String, snapshot: Int64) throws {
        if let owner = try Int64.fetchOne(db, sql: "SELECT snapshot FROM tags WHERE name = ?", arguments: [tag]) {
            guard owner == snapshot else { throw SnapshotError.tagTaken(tag: tag, snapshot: owner) }
            return
        }
        try db.execute(sql: "INSERT INTO tags (name, snapshot) VALUES (?, ?)", arguments: [tag, snapshot])
    }
}

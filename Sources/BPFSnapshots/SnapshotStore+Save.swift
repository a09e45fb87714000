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
        let states = try records.sorted { $0.fd < $1.fd }.map(PreparedState.init)
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
                    try insertHandler.execute(arguments: [id, state.fd, try state.store(db)])
                }
                try beforeCommit?()
                return id
            }
        }
    }

    static func validateTag(_ tag: String) throws {
        guard !tag.isEmpty, Int64(tag) == nil, !tag.contains(where: { $0.isWhitespace || $0.isNewline }) else {
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

/// One handler, hashed and ready to store: `hash` covers everything, so finding it in
/// `handler_states` means its content is stored too.
struct PreparedState {
    var fd: Int
    var kind: HandlerKind
    var name: String?
    var attributes: String
    var bytecode: [UInt8]?
    var bytecodeHash: [UInt8]?
    var map: MapChunks?
    var hash: [UInt8]

    init(_ record: HandlerRecord) throws {
        fd = record.fd
        kind = record.handler.kind
        name = record.handler.name
        attributes = StoredAttributes.encode(record.handler)
        var h = SHA256()
        for text in [kind.rawValue, name ?? "", attributes] {
            h.update(littleEndian: UInt64(text.utf8.count))
            h.update(Array(text.utf8))
        }
        h.update([name == nil ? 0 : 1])
        switch record.handler {
        case .program(let p):
            guard p.bytecode.count % ProgramHandler.instructionSize == 0 else {
                throw SnapshotError.invalidRecord(fd: fd, reason: "\(p.bytecode.count) bytes of bytecode is not whole 8-byte instructions")
            }
            bytecode = p.bytecode
            let digest = SHA256.hash(p.bytecode)
            bytecodeHash = digest
            h.update([1])
            h.update(digest)
        case .map(let m):
            if let contents = m.contents {
                let chunks = try MapChunks(contents, fd: fd)
                map = chunks
                h.update([2])
                h.update(chunks.hash)
            }
        case .perfEvent, .link, .epoll, .memfd:
            break
        }
        hash = h.finalize()
    }

    /// The `handler_states` id, writing the state and whatever content is not stored yet.
    func store(_ db: Database) throws -> Int64 {
        if let id = try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT id FROM handler_states WHERE hash = ?"), arguments: [Data(hash)]) {
            return id
        }
        var programID: Int64?
        if let bytecode, let bytecodeHash {
            programID = try Self.idOrInsert(
                db, find: "SELECT id FROM blobs WHERE hash = ?", hash: bytecodeHash,
                insert: "INSERT INTO blobs (hash, data) VALUES (?, ?)", arguments: [Data(bytecodeHash), Data(bytecode)])
        }
        let contentID = try map.map { try Self.store($0, db) }
        try db.cachedStatement(sql: """
            INSERT INTO handler_states (hash, kind, name, attributes, program, map_content) VALUES (?, ?, ?, ?, ?, ?)
            """).execute(arguments: [Data(hash), kind.rawValue, name, attributes, programID, contentID])
        return db.lastInsertedRowID
    }

    private static func store(_ map: MapChunks, _ db: Database) throws -> Int64 {
        if let id = try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT id FROM map_contents WHERE hash = ?"), arguments: [Data(map.hash)]) {
            return id
        }
        try db.cachedStatement(sql: """
            INSERT INTO map_contents (hash, key_size, value_size, values_per_entry, entry_count) VALUES (?, ?, ?, ?, ?)
            """).execute(arguments: [Data(map.hash), map.keySize, map.valueSize, map.valuesPerEntry, map.count])
        let contentID = db.lastInsertedRowID
        let insertLink = try db.cachedStatement(sql: "INSERT INTO map_content_chunks (content, seq, chunk) VALUES (?, ?, ?)")
        for (seq, chunk) in map.chunks.enumerated() {
            let chunkID = try idOrInsert(
                db, find: "SELECT id FROM chunks WHERE hash = ?", hash: chunk.hash,
                insert: "INSERT INTO chunks (hash, entry_count) VALUES (?, ?)", arguments: [Data(chunk.hash), chunk.count],
                then: { try ChunkRows.insert(chunk, of: map, id: $0, db) })
            try insertLink.execute(arguments: [contentID, seq, chunkID])
        }
        return contentID
    }

    private static func idOrInsert(_ db: Database, find: String, hash: [UInt8], insert: String,
                                   arguments: StatementArguments, then: ((Int64) throws -> Void)? = nil) throws -> Int64 {
        if let id = try Int64.fetchOne(db.cachedStatement(sql: find), arguments: [Data(hash)]) { return id }
        try db.cachedStatement(sql: insert).execute(arguments: arguments)
        let id = db.lastInsertedRowID
        try then?(id)
        return id
    }
}

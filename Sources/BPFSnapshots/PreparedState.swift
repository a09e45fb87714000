import BPFModel
import Foundation
import GRDB

/// One handler, hashed and ready to store: `hash` covers everything, so finding it in
/// `handler_states` means its content is stored too.
struct PreparedState {
    var fd: Int
    var kind: HandlerKind
    var name: String?
    var attributes: String
    var bytecode: [UInt8]?
    var bytecodeHash: [UInt8]?
    var aotImage: [UInt8]?
    var aotImageHash: [UInt8]?
    /// A map's contents as listed, and their fingerprint.
    var contents: MapContents?
    var fingerprint: [UInt8]?
    /// The contents' canonical hash, and their canonical form unless the fingerprint named
    /// contents already stored (then sorting and chunking were skipped).
    var contentHash: [UInt8]?
    var map: MapChunks?
    var hash: [UInt8]

    /// Prepares `records`, looking up in `reader` which map contents are stored already.
    static func prepare(_ records: [HandlerRecord], _ reader: any DatabaseReader) throws -> [PreparedState] {
        let fingerprints = records.map(fingerprint)
        let known = try reader.read { db in
            var known: [[UInt8]: [UInt8]] = [:]
            let find = try db.cachedStatement(sql: """
                SELECT c.hash FROM map_content_sources s JOIN map_contents c ON c.id = s.content WHERE s.hash = ?
                """)
            for fingerprint in fingerprints.compactMap({ $0 }) {
                known[fingerprint] = try Data.fetchOne(find, arguments: [Data(fingerprint)]).map { [UInt8]($0) }
            }
            return known
        }
        return try prepare(records, fingerprints: fingerprints, known: known)
    }

    /// Prepares `records` with every map sorted, chunked and hashed (no contents known by fingerprint).
    static func prepare(_ records: [HandlerRecord]) throws -> [PreparedState] {
        try prepare(records, fingerprints: records.map { _ in nil }, known: [:])
    }

    private static func prepare(_ records: [HandlerRecord], fingerprints: [[UInt8]?], known: [[UInt8]: [UInt8]]) throws -> [PreparedState] {
        let progress = WorkProgress.current
        progress?.begin("hashing", total: records.reduce(0) { $0 + $1.progressUnits })
        return try zip(records, fingerprints).map { record, fingerprint in
            defer { progress?.advance(record.progressUnits) }
            return try PreparedState(record, fingerprint: fingerprint, knownContent: fingerprint.flatMap { known[$0] })
        }
    }

    /// A map record's fingerprint (nil for other handlers and maps without contents).
    private static func fingerprint(_ record: HandlerRecord) -> [UInt8]? {
        guard case .map(let m) = record.handler, let contents = m.contents else { return nil }
        return fingerprint(contents)
    }

    static func fingerprint(_ contents: MapContents) -> [UInt8] {
        SHA256.fingerprint([UInt64(contents.keySize), UInt64(contents.valueSize), UInt64(contents.valuesPerEntry)],
                           [contents.keys, contents.values])
    }

    init(_ record: HandlerRecord, fingerprint: [UInt8]?, knownContent: [UInt8]?) throws {
        fd = record.fd
        kind = record.handler.kind
        name = record.handler.name
        attributes = StoredAttributes.encode(record.handler)
        var h = Self.stateHasher(kind: kind.rawValue, name: name, attributes: attributes)
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
            // Only when present, so states saved before AOT existed keep their hash.
            if let image = p.aotImage {
                aotImage = image
                let digest = SHA256.hash(image)
                aotImageHash = digest
                h.update([3])
                h.update(digest)
            }
        case .map(let m):
            if let contents = m.contents {
                self.contents = contents
                self.fingerprint = fingerprint
                if knownContent == nil { map = try MapChunks(contents, fd: fd) }
                let contentHash = knownContent ?? map?.hash ?? []
                self.contentHash = contentHash
                h.update([2])
                h.update(contentHash)
            }
        case .perfEvent, .link, .epoll, .memfd:
            break
        }
        hash = h.finalize()
    }

    /// A handler state's hash, fed its kind, name and stored attributes; what follows depends on
    /// the kind (a map's: `[2]` and its contents' hash).
    static func stateHasher(kind: String, name: String?, attributes: String) -> SHA256 {
        var h = SHA256()
        for text in [kind, name ?? "", attributes] {
            h.update(littleEndian: UInt64(text.utf8.count))
            h.update(Array(text.utf8))
        }
        h.update([name == nil ? 0 : 1])
        return h
    }

    /// Units of work for `WorkProgress`: the handler and its map entries.
    var progressUnits: Int { 1 + (contents?.count ?? 0) }

    /// The contents in canonical form, chunked now if preparing skipped it.
    func chunks() throws -> MapChunks? {
        try map ?? contents.map { try MapChunks($0, fd: fd) }
    }

    /// The `handler_states` id, writing the state and whatever content is not stored yet; new
    /// map contents are stored as changes over the same fd's in snapshot `parent`, if it has one.
    func store(_ db: Database, parent: Int64?) throws -> Int64 {
        let id = try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT id FROM handler_states WHERE hash = ?"), arguments: [Data(hash)]) ?? insert(db, parent: parent)
        if let fingerprint {
            try db.cachedStatement(sql: """
                INSERT OR IGNORE INTO map_content_sources (hash, content) SELECT ?, map_content FROM handler_states WHERE id = ?
                """).execute(arguments: [Data(fingerprint), id])
        }
        return id
    }

    private func insert(_ db: Database, parent: Int64?) throws -> Int64 {
        var programID: Int64?
        if let bytecode, let bytecodeHash {
            programID = try Self.idOrInsert(
                db, find: "SELECT id FROM blobs WHERE hash = ?", hash: bytecodeHash,
                insert: "INSERT INTO blobs (hash, data) VALUES (?, ?)", arguments: [Data(bytecodeHash), Data(bytecode)])
        }
        var aotID: Int64?
        if let aotImage, let aotImageHash {
            aotID = try Self.idOrInsert(
                db, find: "SELECT id FROM blobs WHERE hash = ?", hash: aotImageHash,
                insert: "INSERT INTO blobs (hash, data) VALUES (?, ?)", arguments: [Data(aotImageHash), Data(aotImage)])
        }
        var contentID: Int64?
        if let contentHash {
            // Found by fingerprint while preparing, unless a collection removed it since.
            contentID = try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT id FROM map_contents WHERE hash = ?"), arguments: [Data(contentHash)])
            if contentID == nil, let chunks = try chunks() {
                let previous = try parent.flatMap { try Int64.fetchOne(db.cachedStatement(sql: """
                    SELECT st.map_content FROM snapshot_handlers h JOIN handler_states st ON st.id = h.state
                    WHERE h.snapshot = ? AND h.fd = ?
                    """), arguments: [$0, fd]) }
                contentID = try MapLayers.store(chunks, over: previous, db)
            }
        }
        try db.cachedStatement(sql: """
            INSERT INTO handler_states (hash, kind, name, attributes, program, map_content, aot_image) VALUES (?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [Data(hash), kind.rawValue, name, attributes, programID, contentID, aotID])
        return db.lastInsertedRowID
    }

    private static func idOrInsert(_ db: Database, find: String, hash: [UInt8], insert: String,
                                   arguments: StatementArguments) throws -> Int64 {
        if let id = try Int64.fetchOne(db.cachedStatement(sql: find), arguments: [Data(hash)]) { return id }
        try db.cachedStatement(sql: insert).execute(arguments: arguments)
        return db.lastInsertedRowID
    }
}

extension HandlerRecord {
    /// Units of work for `WorkProgress`: the handler and its map entries.
    var progressUnits: Int {
        guard case .map(let m) = handler else { return 1 }
        return 1 + (m.contents?.count ?? 0)
    }
}

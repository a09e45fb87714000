import BPFModel
import Foundation
import GRDB

/// A snapshot's metadata, as `list` and `info` give it.
public struct SnapshotInfo: Equatable, Sendable {
    public var id: Int64
    public var createdAt: Date
    public var segmentName: String
    public var host: String
    public var generation: UInt64
    public var message: String?
    public var tags: [String]
    public var parent: Int64?
    public var handlerCount: Int
    /// When this snapshot is the state before a restore: that restore.
    public var undoOf: RestoreSummary?
    /// Who and what made it (nil for snapshots saved without).
    public var provenance: Provenance?

    public init(id: Int64, createdAt: Date, segmentName: String, host: String, generation: UInt64, message: String?,
                tags: [String], parent: Int64?, handlerCount: Int, undoOf: RestoreSummary? = nil,
                provenance: Provenance? = nil) {
        self.id = id
        self.createdAt = createdAt
        self.segmentName = segmentName
        self.host = host
        self.generation = generation
        self.message = message
        self.tags = tags
        self.parent = parent
        self.handlerCount = handlerCount
        self.undoOf = undoOf
        self.provenance = provenance
    }
}

/// One applied restore, as the `restores` table records it.
public struct RestoreSummary: Equatable, Sendable {
    /// The snapshot restored.
    public var snapshot: Int64
    /// The fds it changed.
    public var fds: [Int]
    public var restoredAt: Date

    public init(snapshot: Int64, fds: [Int], restoredAt: Date) {
        self.snapshot = snapshot
        self.fds = fds
        self.restoredAt = restoredAt
    }
}

extension SnapshotStore {
    /// Every snapshot, oldest first.
    public func list() throws -> [SnapshotInfo] {
        try guarded { try pool.read { try Self.infos($0, id: nil) } }
    }

    /// The newest snapshot of `segment`, nil when it has none.
    public func latest(segment: String) throws -> SnapshotInfo? {
        try guarded {
            try pool.read { db in
                let id = try Int64.fetchOne(db, sql: "SELECT max(id) FROM snapshots WHERE segment_name = ?", arguments: [segment])
                return try id.flatMap { try Self.infos(db, id: $0).first }
            }
        }
    }

    public func info(_ id: Int64) throws -> SnapshotInfo {
        try guarded {
            try pool.read { db in
                guard let info = try Self.infos(db, id: id).first else { throw SnapshotError.unknownSnapshot(String(id)) }
                return info
            }
        }
    }

    /// The snapshot's full handler table, by fd, map contents included.
    public func records(of id: Int64) throws -> [HandlerRecord] {
        try guarded {
            try pool.read { db in try Self.storedHandlers(db, snapshot: id).map { try $0.record(db, withContents: true) } }
        }
    }

    /// An id (as digits), a tag or `latest`, optionally with `~N` (see `SnapshotReference`).
    public func resolve(_ reference: String) throws -> Int64 {
        try guarded { try pool.read { try SnapshotReference.resolve(reference, $0) } }
    }

    private static func infos(_ db: Database, id: Int64?) throws -> [SnapshotInfo] {
        let filter = id == nil ? "" : "WHERE s.id = ?"
        let arguments: StatementArguments = id.map { [$0] } ?? []
        var tags: [Int64: [String]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT t.snapshot, t.name FROM tags t JOIN snapshots s ON s.id = t.snapshot \(filter) ORDER BY t.name", arguments: arguments) {
            tags[row[0], default: []].append(row[1])
        }
        return try Row.fetchAll(db, sql: """
            SELECT s.id, s.created_at, s.segment_name, s.host, s.generation, s.message, s.parent,
                   (SELECT count(*) FROM snapshot_handlers h WHERE h.snapshot = s.id),
                   r.snapshot, r.fds, r.restored_at,
                   s.command, s.user_name, s.uid, s.pid, s.tool_version, s.restored_snapshot, s.undo_snapshot
            FROM snapshots s LEFT JOIN restores r ON r.undo_snapshot = s.id \(filter) ORDER BY s.id
            """, arguments: arguments).map { row in
            let id: Int64 = row[0]
            let generation: Int64 = row[4]
            let restored: Int64? = row[8]
            let undoOf = try restored.map { snapshot in
                guard let fds = try? JSONDecoder().decode([Int].self, from: Data((row[9] as String).utf8)) else {
                    throw SnapshotError.damaged("restore record of snapshot \(id) has unreadable fds")
                }
                return RestoreSummary(snapshot: snapshot, fds: fds, restoredAt: row[10])
            }
            return SnapshotInfo(id: id, createdAt: row[1], segmentName: row[2], host: row[3],
                                generation: UInt64(bitPattern: generation), message: row[5], tags: tags[id] ?? [],
                                parent: row[6], handlerCount: row[7], undoOf: undoOf, provenance: provenance(row, from: 11))
        }
    }

    /// The provenance columns starting at `column`; nil when the snapshot was saved without.
    private static func provenance(_ row: Row, from column: Int) -> Provenance? {
        guard let command = row[column] as String? else { return nil }
        let uid = row[column + 2] as Int64?, pid = row[column + 3] as Int64?
        return Provenance(command: command, user: row[column + 1] as String? ?? "", uid: UInt32(truncatingIfNeeded: uid ?? 0),
                          pid: Int32(truncatingIfNeeded: pid ?? 0), toolVersion: row[column + 4] as String? ?? "",
                          restoredSnapshot: row[column + 5] as Int64?, undoSnapshot: row[column + 6] as Int64?)
    }

    /// The handler rows of a snapshot, by fd; throws for an unknown snapshot.
    static func storedHandlers(_ db: Database, snapshot: Int64) throws -> [StoredHandler] {
        guard try Bool.fetchOne(db, sql: "SELECT 1 FROM snapshots WHERE id = ?", arguments: [snapshot]) == true else {
            throw SnapshotError.unknownSnapshot(String(snapshot))
        }
        return try Row.fetchAll(db, sql: """
            SELECT h.fd, h.state, st.hash, st.kind, st.name, st.attributes, b.data, st.map_content, a.data,
                   st.program, st.aot_image, st.id IS NULL
            FROM snapshot_handlers h
            LEFT JOIN handler_states st ON st.id = h.state
            LEFT JOIN blobs b ON b.id = st.program
            LEFT JOIN blobs a ON a.id = st.aot_image
            WHERE h.snapshot = ? ORDER BY h.fd
            """, arguments: [snapshot]).map { row in
            let fd: Int = row[0]
            let program: Int64? = row[9], aot: Int64? = row[10]
            let missing: [(Bool, String)] = [
                (row[11] as Bool, "handler state \(row[1] as Int64)"),
                (program != nil && (row[6] as Data?) == nil, "program blob \(program ?? 0)"),
                (aot != nil && (row[8] as Data?) == nil, "AOT code blob \(aot ?? 0)"),
            ]
            if let (_, what) = missing.first(where: { $0.0 }) {
                throw SnapshotError.damaged("\(what) of fd \(fd) in snapshot \(snapshot) is missing")
            }
            return StoredHandler(fd: fd, state: row[1], hash: [UInt8](row[2] as Data), kind: row[3], name: row[4],
                          attributes: row[5], bytecode: (row[6] as Data?).map { [UInt8]($0) }, mapContent: row[7],
                          aotImage: (row[8] as Data?).map { [UInt8]($0) })
        }
    }
}

/// One `snapshot_handlers` row with its state, map entries not yet loaded.
struct StoredHandler {
    var fd: Int
    var state: Int64
    var hash: [UInt8]
    var kind: String
    var name: String?
    var attributes: String
    var bytecode: [UInt8]?
    var mapContent: Int64?
    var aotImage: [UInt8]?

    /// The handler; map contents are loaded only `withContents`, else left `nil`.
    func record(_ db: Database, withContents: Bool) throws -> HandlerRecord {
        guard let kind = HandlerKind(rawValue: kind) else {
            throw SnapshotError.database("fd \(fd) has unknown handler kind '\(self.kind)'")
        }
        let contents = try withContents ? mapContent.map { try MapContentRows.load($0, db, fd: fd) } : nil
        do {
            let handler = try StoredAttributes.decode(
                kind: kind, name: name, attributes: attributes, bytecode: bytecode, aotImage: aotImage, contents: contents)
            return HandlerRecord(fd: fd, handler: handler)
        } catch is DecodingError {
            throw SnapshotError.database("fd \(fd) has unreadable attributes \(attributes)")
        }
    }
}

/// A map's stored contents: its sizes, and how it is stored (see `MapLayers`).
enum MapContentRows {
    struct Layout {
        var keySize: Int, valueSize: Int, valuesPerEntry: Int, count: Int
        /// The base a layered contents applies its chain to; `nil` for a base.
        var base: Int64?
        /// Changes in the layers of its chain, and how many layers it has.
        var layerEntries: Int, depth: Int
        var storedKeySize: Int { keySize == 0 ? 4 : keySize }
        var stride: Int { valueSize * valuesPerEntry }
    }

    static func layout(_ content: Int64, _ db: Database) throws -> Layout {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT key_size, value_size, values_per_entry, entry_count, base, layer_entries,
                   (SELECT count(*) FROM map_content_layers WHERE content = m.id)
            FROM map_contents m WHERE id = ?
            """), arguments: [content]) else { throw SnapshotError.damaged("map contents \(content) are missing") }
        let layout = Layout(keySize: row[0], valueSize: row[1], valuesPerEntry: row[2], count: row[3], base: row[4],
                            layerEntries: row[5], depth: row[6])
        guard layout.keySize >= 0, layout.valueSize >= 0, layout.valuesPerEntry >= 1, layout.count >= 0,
              layout.keySize <= 1 << 16, layout.valueSize <= 1 << 24, layout.valuesPerEntry <= 1 << 16,
              layout.base != content, (layout.base == nil) == (layout.depth == 0) else {
            throw SnapshotError.database("map contents \(content) has invalid sizes or layers")
        }
        return layout
    }

    static func load(_ content: Int64, _ db: Database, fd: Int) throws -> MapContents {
        let layout = try layout(content, db)
        let list = try ChunkList.stored(content, db)
        var contents = try list.entries(Array(list.hashes.indices))
        guard contents.count == layout.count else {
            throw SnapshotError.damaged("map contents \(content) of fd \(fd) hold \(contents.count) entries, \(layout.count) recorded (missing chunks or rows)")
        }
        if layout.keySize == 0 { contents.keys = [] }  // positions were only stored as keys
        contents.keySize = layout.keySize
        return contents
    }

    /// The entries of the base chunks `chunks`, in order, with their keys as stored.
    static func entries(_ chunks: [Int64], _ layout: Layout, _ db: Database) throws -> MapContents {
        var contents = MapContents(keySize: layout.storedKeySize, valueSize: layout.valueSize, valuesPerEntry: layout.valuesPerEntry)
        let expected = min(layout.count, 1 << 22)  // a damaged count must not allocate wildly
        contents.keys.reserveCapacity(expected * layout.storedKeySize)
        contents.values.reserveCapacity(expected * layout.stride)
        for chunk in chunks {
            try ChunkRows.forEach(chunk, keySize: layout.storedKeySize, stride: layout.stride, db) { key, value in
                contents.keys.append(contentsOf: key)
                contents.values.append(contentsOf: value)
            }
        }
        return contents
    }
}

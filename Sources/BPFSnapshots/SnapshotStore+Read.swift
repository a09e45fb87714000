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
        try withReadConnection { try $0.snapshotInfos() }
    }

    /// The newest snapshot of `segment`, nil when it has none.
    public func latest(segment: String) throws -> SnapshotInfo? {
        try guarded {
            try pool.read { db in
                let id = try Int64.fetchOne(db, sql: "SELECT max(id) FROM snapshots WHERE segment_name = ?", arguments: [segment])
                return try id.flatMap { try SQLiteConnection(db: db, location: path).snapshotInfos(id: $0).first }
            }
        }
    }

    public func info(_ id: Int64) throws -> SnapshotInfo {
        try withReadConnection { try $0.info(id) }
    }

    /// The snapshot's full handler table, by fd, map contents included.
    public func records(of id: Int64) throws -> [HandlerRecord] {
        try withReadConnection { try $0.records(of: id) }
    }

    /// The snapshot's handlers without map contents, with each map's stored entry count.
    public func handlerSummaries(of id: Int64) throws -> [(record: HandlerRecord, entries: Int?)] {
        try withReadConnection { try $0.handlerSummaries(of: id) }
    }

    /// An id (as digits), a tag or `latest`, optionally with `~N` (see `SnapshotReference`).
    public func resolve(_ reference: String) throws -> Int64 {
        try guarded { try pool.read { try SnapshotReference.resolve(reference, $0) } }
    }

    /// The handler rows of a snapshot, by fd; throws for an unknown snapshot.
    static func storedHandlers(_ db: any SQLConnection, snapshot: Int64) throws -> [StoredHandler] {
        guard try db.value("SELECT 1 FROM snapshots WHERE id = $1", [.integer(snapshot)]) != nil else {
            throw SnapshotError.unknownSnapshot(String(snapshot))
        }
        return try db.rows("""
            SELECT h.fd, h.state, st.hash, st.kind, st.name, st.attributes, b.data, st.map_content, a.data,
                   st.program, st.aot_image, st.id IS NULL
            FROM snapshot_handlers h
            LEFT JOIN handler_states st ON st.id = h.state
            LEFT JOIN blobs b ON b.id = st.program
            LEFT JOIN blobs a ON a.id = st.aot_image
            WHERE h.snapshot = $1 ORDER BY h.fd
            """, [.integer(snapshot)]).map { row in
            let fd = Int(row[0].integer ?? 0), state = row[1].integer ?? 0
            let program = row[9].integer, aot = row[10].integer
            let missing: [(Bool, String)] = [
                (row[11].integer != 0 || row[2].blob == nil || row[3].text == nil || row[5].text == nil, "handler state \(state)"),
                (program != nil && row[6].blob == nil, "program blob \(program ?? 0)"),
                (aot != nil && row[8].blob == nil, "AOT code blob \(aot ?? 0)"),
            ]
            if let (_, what) = missing.first(where: { $0.0 }) {
                throw SnapshotError.damaged("\(what) of fd \(fd) in snapshot \(snapshot) is missing")
            }
            return StoredHandler(fd: fd, state: state, hash: row[2].blob ?? [], kind: row[3].text ?? "", name: row[4].text,
                                 attributes: row[5].text ?? "", bytecode: row[6].blob, mapContent: row[7].integer, aotImage: row[8].blob)
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

    /// The handler; map contents are loaded only `withContents` (by `load` when given), else left `nil`.
    func record(_ db: any SQLConnection, withContents: Bool, load: ((Int64) throws -> MapContents)? = nil) throws -> HandlerRecord {
        guard let kind = HandlerKind(rawValue: kind) else {
            throw SnapshotError.database("fd \(fd) has unknown handler kind '\(self.kind)'")
        }
        let contents = try withContents ? mapContent.map { try load?($0) ?? MapContentRows.load($0, db, fd: fd) } : nil
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
        /// The entries' size as recorded (`Int.max` past it).
        var bytes: Int {
            let (total, overflow) = count.multipliedReportingOverflow(by: storedKeySize + stride)
            return overflow ? .max : total
        }
    }

    static func layout(_ content: Int64, _ db: any SQLConnection) throws -> Layout {
        guard let row = try db.rows("""
            SELECT key_size, value_size, values_per_entry, entry_count, base, layer_entries,
                   (SELECT count(*) FROM map_content_layers WHERE content = m.id)
            FROM map_contents m WHERE id = $1
            """, [.integer(content)]).first else { throw SnapshotError.damaged("map contents \(content) are missing") }
        func size(_ i: Int) -> Int { Int(truncatingIfNeeded: row[i].integer ?? -1) }
        let layout = Layout(keySize: size(0), valueSize: size(1), valuesPerEntry: size(2), count: size(3), base: row[4].integer,
                            layerEntries: size(5), depth: size(6))
        guard layout.keySize >= 0, layout.valueSize >= 0, layout.valuesPerEntry >= 1, layout.count >= 0,
              layout.keySize <= 1 << 16, layout.valueSize <= 1 << 24, layout.valuesPerEntry <= 1 << 16,
              layout.base != content, (layout.base == nil) == (layout.depth == 0) else {
            throw SnapshotError.database("map contents \(content) has invalid sizes or layers")
        }
        return layout
    }

    /// A base contents' entries (`$1`), chunk after chunk, each chunk's in key order.
    static let entriesInOrder = """
        SELECT e.key, e.value FROM map_content_chunks c JOIN chunk_entries e ON e.chunk = c.chunk
        WHERE c.content = $1 ORDER BY c.seq, e.key
        """

    /// The value `key` has in `content`: the newest layer's that wrote it (nil when it deleted
    /// the key), else `base()`, the value in the contents the layers apply to.
    static func value(_ key: [UInt8], in content: Int64, _ layout: Layout, _ db: any SQLConnection,
                      base: () throws -> [UInt8]?) throws -> [UInt8]? {
        if layout.base != nil, let row = try db.rows("""
            SELECT d.value FROM map_content_layers l JOIN map_content_deltas d ON d.content = l.layer AND d.key = $1
            WHERE l.content = $2 ORDER BY l.depth DESC LIMIT 1
            """, [.blob(key), .integer(content)]).first {
            return row[0].blob
        }
        return try base()
    }

    /// All entries: the base's chunks read in order by one statement (no per-chunk query), a
    /// layered contents' merged chain applied as they stream by, each entry copied once into
    /// buffers of the recorded size (this runs once per entry of every restore, export and diff).
    static func load(_ content: Int64, _ db: any SQLConnection, fd: Int) throws -> MapContents {
        let layout = try layout(content, db)
        let overlay = try layout.base == nil ? Overlay(keySize: layout.storedKeySize, stride: layout.stride) : Overlay.load(content, layout, db)
        let progress = WorkProgress.current
        var rows = 0
        func merge<Sink: EntrySink>(into sink: inout Sink) throws {
            try overlay.merge(0 ..< overlay.count, into: &sink) { emit in
                try db.forEachEntry(entriesInOrder, layout.base ?? content, keySize: layout.storedKeySize, stride: layout.stride) { key, value in
                    guard let value else { throw SnapshotError.database("map contents \(content) hold an entry without a value") }
                    try emit(key, value)
                    rows += 1
                    if rows % MapChunks.averageEntries == 0 { progress?.advance(MapChunks.averageEntries) }
                }
            }
        }
        var contents: MapContents
        if layout.bytes <= allocationLimit {
            contents = try filled(layout) { try merge(into: &$0) }
        } else {
            contents = reserved(layout)
            try merge(into: &contents)
        }
        progress?.advance(rows % MapChunks.averageEntries)
        guard contents.count == layout.count else {
            throw SnapshotError.damaged("map contents \(content) of fd \(fd) hold \(contents.count) entries, \(layout.count) recorded (missing chunks or rows)")
        }
        if layout.keySize == 0 { contents.keys = [] }  // positions were only stored as keys
        contents.keySize = layout.keySize
        return contents
    }

    /// Bytes that recorded sizes may allocate at once (larger contents grow as they are read):
    /// damaged sizes must not allocate wildly.
    private static let allocationLimit = 256 << 20

    /// Contents of the layout's sizes, filled by `body` in buffers of its recorded count.
    private static func filled(_ layout: Layout, _ body: (inout EntryBuffers) throws -> Void) throws -> MapContents {
        let (keySize, stride, count) = (layout.storedKeySize, layout.stride, layout.count)
        var filled = 0
        var values: [UInt8] = []
        let keys = try [UInt8](unsafeUninitializedCapacity: count * keySize) { keyBuffer, keysFilled in
            defer { keysFilled = filled * keySize }
            values = try [UInt8](unsafeUninitializedCapacity: count * stride) { valueBuffer, valuesFilled in
                defer { valuesFilled = filled * stride }
                var sink = EntryBuffers(keys: UnsafeMutableRawBufferPointer(keyBuffer), values: UnsafeMutableRawBufferPointer(valueBuffer),
                                        keySize: keySize, stride: stride, capacity: count)
                defer { filled = sink.count }
                try body(&sink)
            }
        }
        return MapContents(keySize: keySize, valueSize: layout.valueSize, valuesPerEntry: layout.valuesPerEntry, keys: keys, values: values)
    }

    /// Empty contents of the layout's sizes, with room for its entries.
    static func reserved(_ layout: Layout) -> MapContents {
        var contents = MapContents(keySize: layout.storedKeySize, valueSize: layout.valueSize, valuesPerEntry: layout.valuesPerEntry)
        let expected = min(layout.count, 1 << 22)  // a damaged count must not allocate wildly
        contents.keys.reserveCapacity(expected * layout.storedKeySize)
        contents.values.reserveCapacity(expected * layout.stride)
        return contents
    }

    /// The entries of the base chunks `chunks`, in order, with their keys as stored.
    static func entries(_ chunks: [Int64], _ layout: Layout, _ db: any SQLConnection) throws -> MapContents {
        var contents = reserved(layout)
        let progress = WorkProgress.current
        for chunk in chunks {
            let before = contents.values.count
            try ChunkRows.forEach(chunk, keySize: layout.storedKeySize, stride: layout.stride, db) { key, value in
                contents.keys.append(contentsOf: key)
                contents.values.append(contentsOf: value)
            }
            progress?.advance((contents.values.count - before) / max(layout.stride, 1))
        }
        return contents
    }
}

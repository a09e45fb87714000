import BPFModel
import Foundation
import GRDB
import SQLiteShims

/// The snapshot a recorded change can start from: the segment's latest, read at this instance
/// and generation of the segment. A change that finds the segment there knows the snapshot is
/// the state it changed, and can be recorded as its own writes over it (`saveChange`).
public struct ChangeBase: Equatable, Sendable {
    public var snapshot: Int64
    public var segmentInstance: UInt64
    public var generation: UInt64
}

/// The entries one change wrote to a keyed map: each key with its value after the change
/// (every CPU's value for a per-CPU map), nil for a key the change deleted.
public struct MapEntryWrites: Equatable, Sendable {
    public var fd: Int
    public var entries: [(key: [UInt8], value: [UInt8]?)]

    public init(fd: Int, entries: [(key: [UInt8], value: [UInt8]?)]) {
        self.fd = fd
        self.entries = entries
    }

    public static func == (a: MapEntryWrites, b: MapEntryWrites) -> Bool {
        a.fd == b.fd && a.entries.count == b.entries.count
            && zip(a.entries, b.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

extension SnapshotStore {
    /// The segment's latest snapshot as a base for a change of up to `writes` entries of the map
    /// at `fd`; nil when it has no instance (saved before 0007, or imported), holds no contents
    /// for that map, or when a layer over them would pass the limits that make a save rebase.
    public func changeBase(segment: String, fd: Int, writes: Int) throws -> ChangeBase? {
        try guarded {
            try pool.read { db in
                guard let row = try Row.fetchOne(db, sql: """
                    SELECT id, generation, segment_instance FROM snapshots WHERE segment_name = ? ORDER BY id DESC LIMIT 1
                    """, arguments: [segment]),
                      let instance = row[2] as Int64?, instance != 0,
                      let content = try Self.mapContent(row[0], fd: fd, db),
                      try Self.layerFits(writes, over: MapContentRows.layout(content, db.history)) else { return nil }
                return ChangeBase(snapshot: row[0], segmentInstance: UInt64(bitPattern: instance),
                                  generation: UInt64(bitPattern: row[1] as Int64))
            }
        }
    }

    /// Records the state `base.snapshot` holds with `writes` applied, as a new snapshot whose
    /// other handlers are that snapshot's and whose map is a layer of the writes over that
    /// snapshot's contents: the cost of the change, not of the state. `replacing` holds handlers
    /// read whole that stand instead of that snapshot's (maps programs wrote in place, which
    /// moved no generation). The caller vouches that the segment was at `base` when the change
    /// began. Writes that leave a value as it was are dropped; when none is left, every handler
    /// replaced is stored as it was and `base.snapshot` is still the segment's latest, nothing
    /// is saved. Returns nil, saving nothing, when the base no longer fits (removed since, or
    /// another shape): record the state itself then.
    public func saveChange(_ writes: MapEntryWrites, over base: ChangeBase, replacing records: [HandlerRecord] = [],
                           meta: SnapshotMeta) throws -> SaveOutcome? {
        let replaced = try guarded { try PreparedState.prepare(records.filter { $0.fd != writes.fd }.sorted { $0.fd < $1.fd }, pool) }
        return try guarded {
            try pool.writeWithoutTransaction { db in
                // The new snapshot's handler rows are copies of the base's, whose keys were checked
                // when they were written: checking each again reads every handler state's page
                // (440 pages a change with 10,000 handlers), most of what recording a change cost.
                // The other rows this writes refer to rows it has just read or written itself.
                // (SQLite ignores the pragma inside a transaction, so it frames the transaction.)
                try db.execute(sql: "PRAGMA foreign_keys = OFF")
                let outcome = Result { () -> SaveOutcome? in
                    var outcome: SaveOutcome?
                    try db.inTransaction(.immediate) {
                        outcome = try Self.saveChange(writes, over: base, replacing: replaced, meta: meta, db)
                        return .commit
                    }
                    return outcome
                }
                try db.execute(sql: "PRAGMA foreign_keys = ON")
                return try outcome.get()
            }
        }
    }

    /// `saveChange` inside a transaction of `db`.
    private static func saveChange(_ writes: MapEntryWrites, over base: ChangeBase, replacing replaced: [PreparedState],
                                   meta: SnapshotMeta, _ db: Database) throws -> SaveOutcome? {
        // One small commit per process: checkpointing and deleting the log when the
        // process closes the history, then creating and syncing a new one at the next
        // change, cost four fsyncs a change. The log is left in place; it is checkpointed
        // (and synced) as SQLite does when it passes 1,000 pages, or when any other command
        // closes the history. (A whole state's save still checkpoints its megabytes on
        // close, so that the next process need not read them back to open the log.)
        let code = bpf_sqlite_keep_wal_on_close(db.sqliteConnection)
        guard code == 0 else { throw SnapshotError.database("SQLite refused to keep its log on close (code \(code))") }
        guard let content = try Self.mapContent(base.snapshot, fd: writes.fd, db) else { return nil }
        let layout = try MapContentRows.layout(content, db.history)
        guard writes.entries.allSatisfy({ $0.key.count == layout.storedKeySize && ($0.value?.count ?? layout.stride) == layout.stride }),
              layout.keySize > 0, layout.stride > 0 else { return nil }
        let layer = try EntryLayer(writes, over: content, layout, db)
        guard Self.layerFits(layer.entries.count, over: layout) else { return nil }
        let latest = try Int64.fetchOne(
            db, sql: "SELECT max(id) FROM snapshots WHERE segment_name = ?", arguments: [meta.segmentName])
        let replacedStates = try replaced.map { ($0.fd, try $0.store(db, parent: base.snapshot)) }
        let replacedUnchanged = try replacedStates.allSatisfy { fd, state in
            try Int64.fetchOne(db, sql: "SELECT state FROM snapshot_handlers WHERE snapshot = ? AND fd = ?",
                               arguments: [base.snapshot, fd]) == state
        }
        if layer.entries.isEmpty, replacedUnchanged, latest == base.snapshot { return SaveOutcome(id: base.snapshot, created: false) }

        let id = try Self.insertSnapshot(meta, parent: latest, db)
        let excluded = ([writes.fd] + replaced.map(\.fd)).map(String.init).joined(separator: ",")
        try db.execute(sql: """
            INSERT INTO snapshot_handlers (snapshot, fd, state) SELECT ?, fd, state FROM snapshot_handlers
            WHERE snapshot = ? AND fd NOT IN (\(excluded))
            """, arguments: [id, base.snapshot])
        let insertHandler = try db.cachedStatement(sql: "INSERT INTO snapshot_handlers (snapshot, fd, state) VALUES (?, ?, ?)")
        for (fd, state) in replacedStates { try insertHandler.execute(arguments: [id, fd, state]) }
        let oldState = try Self.handlerState(base.snapshot, fd: writes.fd, db)
        let state = layer.entries.isEmpty ? oldState : try layer.store(stateOver: oldState, db)
        try insertHandler.execute(arguments: [id, writes.fd, state])
        return SaveOutcome(id: id, created: true)
    }

    /// The map contents of `fd` in `snapshot`, nil when it has none there.
    private static func mapContent(_ snapshot: Int64, fd: Int, _ db: Database) throws -> Int64? {
        try Int64.fetchOne(db, sql: """
            SELECT st.map_content FROM snapshot_handlers h JOIN handler_states st ON st.id = h.state
            WHERE h.snapshot = ? AND h.fd = ?
            """, arguments: [snapshot, fd])
    }

    private static func handlerState(_ snapshot: Int64, fd: Int, _ db: Database) throws -> Int64 {
        guard let state = try Int64.fetchOne(db, sql: "SELECT state FROM snapshot_handlers WHERE snapshot = ? AND fd = ?",
                                             arguments: [snapshot, fd]) else {
            throw SnapshotError.damaged("fd \(fd) of snapshot \(snapshot) is missing")
        }
        return state
    }

    /// True when one more layer of `count` entries stays within what a save stores as a layer.
    private static func layerFits(_ count: Int, over layout: MapContentRows.Layout) -> Bool {
        layout.depth < MapLayers.maximumDepth && (layout.layerEntries + count) * MapLayers.rebaseFraction <= layout.count
    }
}

/// A change's writes to one stored contents, reduced to those that change a value: the last
/// write of each key, in key order, without the ones that leave the value it had.
private struct EntryLayer {
    var content: Int64
    var layout: MapContentRows.Layout
    var entries: [(key: [UInt8], value: [UInt8]?)] = []
    /// Entries the layer adds and removes, against the contents it is over.
    var added = 0, removed = 0

    init(_ writes: MapEntryWrites, over content: Int64, _ layout: MapContentRows.Layout, _ db: Database) throws {
        self.content = content
        self.layout = layout
        var last: [[UInt8]: [UInt8]?] = [:]
        for (key, value) in writes.entries { last[key] = .some(value) }
        for key in last.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let new = last[key] ?? nil
            let old = try MapContentRows.value(key, in: content, layout, db.history) {
                try BaseLookup.value(key, in: layout.base ?? content, layout, db.history)
            }
            guard old != new else { continue }
            if old == nil { added += 1 }
            if new == nil { removed += 1 }
            entries.append((key, new))
        }
    }

    /// Stores the layer as new contents over `content` and the handler state `old` with them
    /// (same kind, name and attributes); returns that state's id. The contents' hash covers the
    /// contents it is over and the layer, not the entries (see `holdsSameEntries`).
    func store(stateOver old: Int64, _ db: Database) throws -> Int64 {
        guard let row = try Row.fetchOne(db, sql: "SELECT hash, kind, name, attributes FROM handler_states WHERE id = ?",
                                         arguments: [old]),
              let overHash = try Data.fetchOne(db, sql: "SELECT hash FROM map_contents WHERE id = ?", arguments: [content]) else {
            throw SnapshotError.damaged("handler state \(old) or map contents \(content) is missing")
        }
        var h = SHA256()
        h.update(Array("layer".utf8))
        h.update([UInt8](overHash))
        for (key, value) in entries {
            h.update(key)
            h.update([value == nil ? 0 : 1])
            if let value { h.update(value) }
        }
        let contentHash = h.finalize()
        let contentID = try Int64.fetchOne(db, sql: "SELECT id FROM map_contents WHERE hash = ?", arguments: [Data(contentHash)])
            ?? insertContents(hash: contentHash, db)
        var stateHash = PreparedState.stateHasher(kind: row[1], name: row[2], attributes: row[3])
        stateHash.update([2])
        stateHash.update(contentHash)
        let hash = stateHash.finalize()
        if let id = try Int64.fetchOne(db, sql: "SELECT id FROM handler_states WHERE hash = ?", arguments: [Data(hash)]) { return id }
        try db.execute(sql: "INSERT INTO handler_states (hash, kind, name, attributes, map_content) VALUES (?, ?, ?, ?, ?)",
                       arguments: [Data(hash), row[1] as String, row[2] as String?, row[3] as String, contentID])
        return db.lastInsertedRowID
    }

    private func insertContents(hash: [UInt8], _ db: Database) throws -> Int64 {
        try db.execute(sql: """
            INSERT INTO map_contents (hash, key_size, value_size, values_per_entry, entry_count, base, layer_entries)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, arguments: [Data(hash), layout.keySize, layout.valueSize, layout.valuesPerEntry,
                             layout.count + added - removed, layout.base ?? content, layout.layerEntries + entries.count])
        let id = db.lastInsertedRowID
        try db.execute(sql: """
            INSERT INTO map_content_layers (content, depth, layer) SELECT ?, depth, layer FROM map_content_layers WHERE content = ?
            """, arguments: [id, content])
        try db.execute(sql: "INSERT INTO map_content_layers (content, depth, layer) VALUES (?, ?, ?)",
                       arguments: [id, layout.depth + 1, id])
        let insert = try db.cachedStatement(sql: "INSERT INTO map_content_deltas (content, key, value) VALUES (?, ?, ?)")
        for (key, value) in entries { try insert.execute(arguments: [id, Data(key), value.map { Data($0) }]) }
        return id
    }
}

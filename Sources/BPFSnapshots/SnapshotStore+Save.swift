import BPFModel
import Foundation
import GRDB

/// What a snapshot records about where its state came from.
public struct SnapshotMeta: Equatable, Sendable {
    public var segmentName: String
    public var host: String
    public var generation: UInt64
    /// The segment's random instance word (`Segment.instance`), nil when unknown: a generation
    /// names one state only within one instance.
    public var segmentInstance: UInt64?
    public var message: String?
    public var tags: [String]
    /// Who and what made it; nil when the saver does not say.
    public var provenance: Provenance?

    public init(segmentName: String, host: String, generation: UInt64, segmentInstance: UInt64? = nil, message: String? = nil,
                tags: [String] = [], provenance: Provenance? = nil) {
        self.segmentName = segmentName
        self.host = host
        self.generation = generation
        self.segmentInstance = segmentInstance
        self.message = message
        self.tags = tags
        self.provenance = provenance
    }
}

/// What `saveIfChanged` did.
public struct SaveOutcome: Equatable, Sendable {
    /// The new snapshot, or the segment's latest one when that already held the same content.
    public var id: Int64
    /// False when nothing was saved.
    public var created: Bool

    public init(id: Int64, created: Bool) {
        self.id = id
        self.created = created
    }
}

/// A restore about to be applied, recorded in `restores` together with its undo snapshot.
public struct RestoreEntry: Equatable, Sendable {
    /// The snapshot restored.
    public var snapshot: Int64
    /// The fds the restore changes.
    public var fds: [Int]
    /// The fds asked for (`--fd`), nil for a whole restore.
    public var selection: [Int]?

    public init(snapshot: Int64, fds: [Int], selection: [Int]?) {
        self.snapshot = snapshot
        self.fds = fds
        self.selection = selection
    }
}

extension SnapshotStore {
    /// `records` sorted by fd, after checking `meta`'s tags and that no two share an fd.
    static func checked(_ records: [HandlerRecord], meta: SnapshotMeta) throws -> [HandlerRecord] {
        for tag in meta.tags { try validateTag(tag) }
        var seen = Set<Int>()
        for record in records where !seen.insert(record.fd).inserted {
            throw SnapshotError.invalidRecord(fd: record.fd, reason: "two handlers at the same fd")
        }
        return records.sorted { $0.fd < $1.fd }
    }
}

extension SnapshotStore: SnapshotHistory {
    /// Content already in the store (same instructions, same map chunks, same handler) is
    /// referenced, not copied, so saving an unchanged segment adds one small row per handler;
    /// a changed map is stored as a layer of its changed entries over the previous contents
    /// (`MapLayers`).
    public func saveSnapshot(_ records: [HandlerRecord], meta: SnapshotMeta, restoring: RestoreEntry?, unlessUnchanged: Bool,
                             beforeCommit: ((Int64) throws -> Void)?) throws -> SaveOutcome {
        let records = try Self.checked(records, meta: meta)
        // Sorting and hashing happen before taking the write lock.
        let states = try guarded { try PreparedState.prepare(records, pool) }
        return try guarded {
            try pool.write { db in
                let parent = try Int64.fetchOne(
                    db, sql: "SELECT max(id) FROM snapshots WHERE segment_name = ?", arguments: [meta.segmentName])
                if unlessUnchanged, let parent, try SQLiteConnection(db: db, location: path).snapshot(parent, holdsExactly: states) {
                    return SaveOutcome(id: parent, created: false)
                }
                if unlessUnchanged, let parent, try Self.snapshot(parent, holdsSameEntries: states, db) {
                    return SaveOutcome(id: parent, created: false)
                }
                let id = try Self.insertSnapshot(meta, parent: parent, db)
                let insertHandler = try db.cachedStatement(
                    sql: "INSERT INTO snapshot_handlers (snapshot, fd, state) VALUES (?, ?, ?)")
                let progress = WorkProgress.current
                progress?.begin("writing", total: states.reduce(0) { $0 + $1.progressUnits })
                var done = 0
                for state in states {
                    try insertHandler.execute(arguments: [id, state.fd, try state.store(db, parent: parent)])
                    done += state.progressUnits
                    progress?.reach(done)
                }
                if let restoring { try SQLiteConnection(db: db, location: path).insertRestore(restoring, undo: id, segment: meta.segmentName) }
                try beforeCommit?(id)
                return SaveOutcome(id: id, created: true)
            }
        }
    }

    /// Writes the `snapshots` row (and its tags) of a new snapshot; returns its id.
    static func insertSnapshot(_ meta: SnapshotMeta, parent: Int64?, _ db: Database) throws -> Int64 {
        let p = meta.provenance
        try db.execute(
            sql: """
                INSERT INTO snapshots (created_at, segment_name, host, generation, segment_instance, message, parent, command,
                                       user_name, uid, pid, tool_version, restored_snapshot, undo_snapshot)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [SQLiteConnection.storedTime(Date()), meta.segmentName, meta.host, Int64(bitPattern: meta.generation),
                        meta.segmentInstance.map { Int64(bitPattern: $0) }, meta.message, parent, p?.command, p?.user,
                        p.map { Int64($0.uid) }, p?.pid, p?.toolVersion, p?.restoredSnapshot, p?.undoSnapshot])
        let id = db.lastInsertedRowID
        let connection = SQLiteConnection(db: db, location: "")
        for tag in meta.tags { try connection.insertTag(tag, snapshot: id) }
        return id
    }

    /// The comparison when hashes differ: contents recorded as a change (`saveChange`) are
    /// hashed from their layer, not from their entries, so a map whose hash differs may still
    /// hold exactly the entries listed. True when every other handler matches by hash and
    /// those maps (same name and attributes) hold the same entries; their fingerprints are then
    /// noted, so that the next comparison matches by hash.
    private static func snapshot(_ snapshot: Int64, holdsSameEntries states: [PreparedState], _ db: Database) throws -> Bool {
        let stored = try Row.fetchAll(db, sql: """
            SELECT h.fd, st.hash, st.kind, st.name, st.attributes, st.map_content
            FROM snapshot_handlers h JOIN handler_states st ON st.id = h.state WHERE h.snapshot = ? ORDER BY h.fd
            """, arguments: [snapshot])
        guard stored.count == states.count else { return false }
        var sources: [([UInt8], Int64)] = []
        for (row, state) in zip(stored, states) {
            guard row[0] as Int == state.fd else { return false }
            if [UInt8](row[1] as Data) == state.hash { continue }
            guard state.kind == .map, row[2] as String == state.kind.rawValue, row[3] as String? == state.name,
                  row[4] as String == state.attributes, let content = row[5] as Int64?, let chunks = try state.chunks() else {
                return false
            }
            let diff = try ChunkList.diff(.stored(content, db.history), .live(chunks), detail: .counts)
            guard diff.isEmpty else { return false }
            if let fingerprint = state.fingerprint { sources.append((fingerprint, content)) }
        }
        for (fingerprint, content) in sources {
            try db.execute(sql: "INSERT OR IGNORE INTO map_content_sources (hash, content) VALUES (?, ?)",
                           arguments: [Data(fingerprint), content])
        }
        return true
    }

    /// Words that name something else where a snapshot is expected.
    static let reservedTags: Set<String> = ["live"]

    static func validateTag(_ tag: String) throws {
        guard !reservedTags.contains(tag.lowercased()) else { throw SnapshotError.reservedTag(tag) }
        guard !tag.isEmpty, Int64(tag) == nil, !tag.contains(where: { $0.isWhitespace || $0.isNewline }),
              SnapshotReference.isPlainName(tag) else {
            throw SnapshotError.invalidTag(tag)
        }
    }
}

import BPFModel
import Foundation

/// A save on any history, through the writer push and pull use (`storeContent`): the snapshot
/// hashed and chunked as the SQLite store does, described as a manifest, and only the content
/// the history lacks sent. Maps are stored as chunk lists (an unchanged chunk is shared; the
/// SQLite store adds layers of changed entries on top, which only its writer makes).
extension SQLConnection {
    public func saveSnapshot(_ records: [HandlerRecord], meta: SnapshotMeta, restoring: RestoreEntry?, unlessUnchanged: Bool,
                             beforeCommit: ((Int64) throws -> Void)?) throws -> SaveOutcome {
        let states = try PreparedState.prepare(SnapshotStore.checked(records, meta: meta))
        let manifest = SnapshotManifest(saving: states, meta: meta, createdAt: Self.storedTime(Date()))
        let lacking = try lacking(manifest)
        let content = SnapshotContent(states, lacking: lacking)
        return try transaction {
            let parent = try latestSnapshot(host: meta.host, segment: meta.segmentName)
            if unlessUnchanged, let parent, try snapshot(parent, holdsExactly: states) {
                return SaveOutcome(id: parent, created: false)
            }
            // A taken tag is refused before the snapshot takes an id: PostgreSQL does not give back
            // the sequence value of a rolled-back insert, and ids should not skip.
            for tag in meta.tags {
                if let owner = try value("SELECT snapshot FROM tags WHERE name = $1", [.text(tag)])?.integer {
                    throw SnapshotError.tagTaken(tag: tag, snapshot: owner)
                }
            }
            let id = try insertSnapshot(manifest, parent: parent, states: storeContent(manifest, lacking, content))
            if let p = meta.provenance, p.restoredSnapshot != nil || p.undoSnapshot != nil {
                try execute("UPDATE snapshots SET restored_snapshot = $1, undo_snapshot = $2 WHERE id = $3",
                            [p.restoredSnapshot.map(SQLValue.integer) ?? .null, p.undoSnapshot.map(SQLValue.integer) ?? .null, .integer(id)])
            }
            for tag in meta.tags { try insertTag(tag, snapshot: id) }
            if let restoring { try insertRestore(restoring, undo: id, segment: meta.segmentName) }
            try beforeCommit?(id)
            return SaveOutcome(id: id, created: true)
        }
    }

    /// Records a restore about to be applied, with the snapshot of the state it replaces.
    func insertRestore(_ entry: RestoreEntry, undo: Int64, segment: String) throws {
        func json(_ fds: [Int]) -> String { "[" + fds.map(String.init).joined(separator: ",") + "]" }
        try insertRestore(at: Self.storedTime(Date()), segment: segment, restored: entry.snapshot, undo: undo,
                          fds: json(entry.fds), selection: entry.selection.map(json))
    }

    /// A `restores` row: when, which snapshot was restored, its undo snapshot, and the fds (JSON arrays).
    func insertRestore(at time: String, segment: String, restored: Int64, undo: Int64, fds: String, selection: String?) throws {
        try execute("""
            INSERT INTO restores (restored_at, segment_name, snapshot, undo_snapshot, fds, selection) VALUES ($1, $2, $3, $4, $5, $6)
            """, [.text(time), .text(segment), .integer(restored), .integer(undo), .text(fds), selection.map(SQLValue.text) ?? .null])
    }

    /// The newest snapshot of `segment` recorded on `host`: the parent of the next one saved there.
    func latestSnapshot(host: String, segment: String) throws -> Int64? {
        try value("SELECT max(id) FROM snapshots WHERE host = $1 AND segment_name = $2", [.text(host), .text(segment)])?.integer
    }
}

extension SnapshotManifest {
    /// The manifest of a snapshot being saved here (so its origin is this history, unrecorded).
    init(saving states: [PreparedState], meta: SnapshotMeta, createdAt: String) {
        let p = meta.provenance
        var contents: [[UInt8]: Contents] = [:]
        for state in states {
            guard let map = state.map else { continue }
            contents[map.hash] = Contents(
                hash: map.hash, localID: 0, keySize: Int64(map.keySize), valueSize: Int64(map.valueSize),
                valuesPerEntry: Int64(map.valuesPerEntry), entryCount: Int64(map.count), base: nil, layerEntries: 0,
                chunks: map.chunks.map(\.hash), layers: [])
        }
        self.init(
            origin: Origin(store: "", id: 0, host: meta.host), localID: 0, createdAt: createdAt, segmentName: meta.segmentName,
            generation: Int64(bitPattern: meta.generation), message: meta.message,
            provenance: [p.map { .text($0.command) } ?? .null, p.map { .text($0.user) } ?? .null, p.map { .integer(Int64($0.uid)) } ?? .null,
                         p.map { .integer(Int64($0.pid)) } ?? .null, p.map { .text($0.toolVersion) } ?? .null],
            tags: meta.tags,
            handlers: states.map {
                Handler(fd: Int64($0.fd), hash: $0.hash, kind: $0.kind.rawValue, name: $0.name, attributes: $0.attributes,
                        program: $0.bytecodeHash, mapContent: $0.contentHash, aotImage: $0.aotImageHash)
            },
            contents: contents.values.sorted { $0.hash.lexicographicallyPrecedes($1.hash) })
    }
}

extension SnapshotContent {
    /// The blobs and chunk entries of `states` that `lacking` names.
    init(_ states: [PreparedState], lacking: LackingContent) {
        for state in states {
            for (hash, data) in [(state.bytecodeHash, state.bytecode), (state.aotImageHash, state.aotImage)] {
                if let hash, let data, lacking.blobs.contains(hash) { blobs[hash] = data }
            }
            guard let map = state.map, lacking.contents.contains(map.hash) else { continue }
            for chunk in map.chunks where lacking.chunks.contains(chunk.hash) && chunkEntries[chunk.hash] == nil {
                var entries = MapContents(keySize: map.storedKeySize, valueSize: map.valueSize, valuesPerEntry: map.valuesPerEntry)
                for i in chunk.start ..< chunk.start + chunk.count {
                    let entry = i * map.entrySize
                    entries.append(key: map.entries[entry ..< entry + map.storedKeySize],
                                   value: map.entries[entry + map.storedKeySize ..< entry + map.entrySize])
                }
                chunkEntries[chunk.hash] = entries
            }
        }
    }
}

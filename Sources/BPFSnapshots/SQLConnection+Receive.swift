import BPFModel

/// The receiving side of push and pull: which content is lacking, and one transaction that
/// stores a whole snapshot (or nothing).
extension SQLConnection {
    /// This history's id for a snapshot first saved as `origin`, nil when it does not have it.
    public func snapshot(from origin: SnapshotManifest.Origin) throws -> Int64? {
        if try storeIdentity() == origin.store { return origin.id }
        return try value("SELECT snapshot FROM snapshot_origins WHERE origin_store = $1 AND origin_id = $2",
                         [.text(origin.store), .integer(origin.id)])?.integer
    }

    /// The manifest's content this history does not hold, and the ids of what it holds that
    /// the new rows will refer to. The check goes down from the handler states: the blobs and
    /// contents of a state held here are held too, and so are the chunks, bases and layers of a
    /// contents held here, so only hashes under something lacking are asked about (a snapshot
    /// with one changed entry asks about its handlers' hashes, then one contents and its chunks).
    public func lacking(_ manifest: SnapshotManifest) throws -> LackingContent {
        var lacking = LackingContent()
        (lacking.states, lacking.stateIDs) = try holding(Set(manifest.handlers.map(\.hash)), in: "handler_states")
        let newHandlers = manifest.handlers.filter { lacking.states.contains($0.hash) }
        (lacking.blobs, lacking.blobIDs) = try holding(Set(newHandlers.flatMap { [$0.program, $0.aotImage].compactMap { $0 } }), in: "blobs")
        let byHash = Dictionary(manifest.contents.map { ($0.hash, $0) }, uniquingKeysWith: { first, _ in first })
        var asking = Set(newHandlers.compactMap(\.mapContent))
        while !asking.isEmpty {
            let (missing, held) = try holding(asking, in: "map_contents")
            lacking.contents.formUnion(missing)
            lacking.contentIDs.merge(held) { first, _ in first }
            asking = Set(missing.flatMap { byHash[$0].map { $0.layers + ($0.base.map { [$0] } ?? []) } ?? [] })
                .subtracting(lacking.contents).subtracting(lacking.contentIDs.keys)
        }
        let chunks = Set(manifest.contents.filter { lacking.contents.contains($0.hash) }.flatMap(\.chunks))
        (lacking.chunks, lacking.chunkIDs) = try holding(chunks, in: "chunks")
        return lacking
    }

    /// Of `hashes`, the ones `table` lacks, and the ids of the ones it holds.
    private func holding(_ hashes: Set<[UInt8]>, in table: String) throws -> (missing: Set<[UInt8]>, held: [[UInt8]: Int64]) {
        var missing = hashes, held: [[UInt8]: Int64] = [:]
        for batch in Array(hashes).chunked(500) {
            for row in try rows("SELECT hash, id FROM \(table) WHERE hash IN (\(Self.placeholders(batch.count)))", batch.map { .blob($0) }) {
                guard let hash = row[0].blob, let id = row[1].integer else { continue }
                missing.remove(hash)
                held[hash] = id
            }
        }
        return (missing, held)
    }

    /// Stores the snapshot in one transaction and returns its id here; a snapshot this history
    /// already has (by origin) is not stored again.
    public func receive(_ manifest: SnapshotManifest, _ lacking: LackingContent, _ content: SnapshotContent) throws -> (id: Int64, stored: Bool) {
        try transaction {
            if let id = try snapshot(from: manifest.origin) { return (id, false) }
            let states = try storeContent(manifest, lacking, content)
            let parent = try latestSnapshot(host: manifest.origin.host, segment: manifest.segmentName)
            let id = try insertSnapshot(manifest, parent: parent, states: states)
            try execute("INSERT INTO snapshot_origins (snapshot, origin_store, origin_id, origin_host) VALUES ($1, $2, $3, $4)",
                        [.integer(id), .text(manifest.origin.store), .integer(manifest.origin.id), .text(manifest.origin.host)])
            // The restore it is the undo of, when the snapshot restored is here too (sent first: it is older).
            if let r = manifest.restore, let restored = try snapshot(from: r.restored) {
                try insertRestore(at: r.restoredAt, segment: manifest.segmentName, restored: restored, undo: id,
                                  fds: r.fds, selection: r.selection)
            }
            for tag in manifest.tags {
                // A tag another snapshot holds here is kept under the sending host's name.
                for name in [tag, "\(manifest.origin.host)/\(tag)"]
                where try value("SELECT 1 FROM tags WHERE name = $1", [.text(name)]) == nil {
                    try execute("INSERT INTO tags (name, snapshot) VALUES ($1, $2)", [.text(name), .integer(id)])
                    break
                }
            }
            return (id, true)
        }
    }

    /// Stores the content `lacking` names (inside the caller's transaction) and returns the
    /// `handler_states` id of each handler's hash; what is held is referred to by the ids
    /// `lacking` found. Each table's new rows go in a few multi-row statements and the chunks'
    /// entries in one `insertChunkEntries`, never a statement per row. Content is inserted in
    /// hash order, so that concurrent receivers sharing content wait for each other instead of
    /// deadlocking. A row a concurrent gc deleted since the check fails a foreign key, and the
    /// transaction is retried (`SnapshotError.conflict`).
    func storeContent(_ manifest: SnapshotManifest, _ lacking: LackingContent, _ content: SnapshotContent) throws -> [[UInt8]: Int64] {
        var blobIDs = lacking.blobIDs, contentIDs = lacking.contentIDs, stateIDs = lacking.stateIDs
        let blobs = try insertOrFind("blobs", columns: ["data"], try lacking.blobs.map { hash in
            guard let data = content.blobs[hash] else { throw SnapshotError.damaged("blob \(Hex.encode(hash)) was not sent") }
            return (hash, [.blob(data)])
        })
        blobIDs.merge(blobs.mapValues(\.id)) { _, new in new }

        let chunks = try insertOrFind("chunks", columns: ["entry_count"], lacking.chunks.map { hash in
            (hash, [.integer(Int64(content.chunkEntries[hash]?.count ?? 0))])
        })
        let chunkIDs = lacking.chunkIDs.merging(chunks.mapValues(\.id)) { _, new in new }
        try insertChunkEntries(try chunks.filter(\.value.inserted).sorted { Self.hashOrder($0.key, $1.key) }.map { hash, row in
            guard let entries = content.chunkEntries[hash] else { throw SnapshotError.damaged("chunk \(Hex.encode(hash)) was not sent") }
            return (row.id, entries)
        })

        // Contents by level (bases, then layered ones by chain length): each refers only to earlier levels.
        let levels = Dictionary(grouping: manifest.contents.filter { lacking.contents.contains($0.hash) }) {
            $0.base == nil ? 0 : 1 + $0.layers.count
        }
        var chunkRows: [[SQLValue]] = [], layerRows: [[SQLValue]] = [], deltaRows: [[SQLValue]] = []
        for level in levels.keys.sorted() {
            let stored = try insertOrFind(
                "map_contents", columns: ["key_size", "value_size", "values_per_entry", "entry_count", "base", "layer_entries"],
                try levels[level, default: []].map { c in
                    let base: SQLValue = try c.base.map { hash in
                        guard let id = contentIDs[hash] else { throw SnapshotError.damaged("base of \(Hex.encode(c.hash)) is missing") }
                        return .integer(id)
                    } ?? .null
                    return (c.hash, [.integer(c.keySize), .integer(c.valueSize), .integer(c.valuesPerEntry), .integer(c.entryCount), base,
                                     .integer(c.layerEntries)])
                })
            contentIDs.merge(stored.mapValues(\.id)) { _, new in new }
            for c in levels[level, default: []] {
                guard let row = stored[c.hash], row.inserted else { continue }
                chunkRows += try c.chunks.enumerated().map {
                    guard let chunk = chunkIDs[$0.element] else { throw SnapshotError.damaged("a chunk of \(Hex.encode(c.hash)) is missing") }
                    return [.integer(row.id), .integer(Int64($0.offset)), .integer(chunk)]
                }
                layerRows += try c.layers.enumerated().map {
                    guard let layer = contentIDs[$0.element] else { throw SnapshotError.damaged("layer of \(Hex.encode(c.hash)) is missing") }
                    return [.integer(row.id), .integer(Int64($0.offset + 1)), .integer(layer)]
                }
                if c.base != nil {
                    guard let deltas = content.deltas[c.hash] else { throw SnapshotError.damaged("changes of \(Hex.encode(c.hash)) were not sent") }
                    deltaRows += deltas.map { [.integer(row.id), .blob($0.key), $0.value.map(SQLValue.blob) ?? .null] }
                }
            }
        }
        try insertRows(table: "map_content_chunks", columns: ["content", "seq", "chunk"], rows: chunkRows)
        try insertRows(table: "map_content_layers", columns: ["content", "depth", "layer"], rows: layerRows)
        try insertRows(table: "map_content_deltas", columns: ["content", "key", "value"], rows: deltaRows)

        var newStates: [[UInt8]: SnapshotManifest.Handler] = [:]
        for h in manifest.handlers where stateIDs[h.hash] == nil { newStates[h.hash] = h }
        let states = try insertOrFind("handler_states", columns: ["kind", "name", "attributes", "program", "map_content", "aot_image"],
                                      newStates.map { hash, h in
            (hash, [.text(h.kind), h.name.map(SQLValue.text) ?? .null, .text(h.attributes),
                    h.program.flatMap { blobIDs[$0] }.map(SQLValue.integer) ?? .null,
                    h.mapContent.flatMap { contentIDs[$0] }.map(SQLValue.integer) ?? .null,
                    h.aotImage.flatMap { blobIDs[$0] }.map(SQLValue.integer) ?? .null])
        })
        stateIDs.merge(states.mapValues(\.id)) { _, new in new }
        return stateIDs
    }

    /// Writes the `snapshots` row of the manifest (host: its origin's) and its handler table;
    /// returns its id.
    func insertSnapshot(_ manifest: SnapshotManifest, parent: Int64?, states: [[UInt8]: Int64]) throws -> Int64 {
        guard let id = try value("""
            INSERT INTO snapshots (created_at, segment_name, host, generation, message, parent,
                                   command, user_name, uid, pid, tool_version)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id
            """, [.text(manifest.createdAt), .text(manifest.segmentName), .text(manifest.origin.host),
                  .integer(manifest.generation), manifest.message.map(SQLValue.text) ?? .null, parent.map(SQLValue.integer) ?? .null]
                + manifest.provenance)?.integer
        else { throw SnapshotError.database("no id for the new snapshot") }
        try insertRows(table: "snapshot_handlers", columns: ["snapshot", "fd", "state"], rows: try manifest.handlers.map {
            guard let state = states[$0.hash] else { throw SnapshotError.damaged("handler state \(Hex.encode($0.hash)) is missing") }
            return [.integer(id), .integer($0.fd), .integer(state)]
        })
        return id
    }

    private static func hashOrder(_ a: [UInt8], _ b: [UInt8]) -> Bool { a.lexicographicallyPrecedes(b) }

    /// Inserts `rows` (a hash and the other columns' values each) into `table` where their hash
    /// is missing, in hash order and a few hundred per statement, and returns each hash's id and
    /// whether this call inserted it. A row a concurrent transaction inserts first is waited for
    /// (`ON CONFLICT`), then found.
    private func insertOrFind(_ table: String, columns: [String], _ rows: [([UInt8], [SQLValue])]) throws -> [[UInt8]: (id: Int64, inserted: Bool)] {
        var ids: [[UInt8]: (id: Int64, inserted: Bool)] = [:]
        let width = columns.count + 1
        for batch in rows.sorted(by: { Self.hashOrder($0.0, $1.0) }).chunked(max(1, 3000 / width)) {
            let values = batch.indices.map { "(" + Self.placeholders(width, from: ($0 - batch.startIndex) * width + 1) + ")" }
            for row in try self.rows("""
                INSERT INTO \(table) (hash, \(columns.joined(separator: ", "))) VALUES \(values.joined(separator: ", "))
                ON CONFLICT (hash) DO NOTHING RETURNING hash, id
                """, batch.flatMap { [.blob($0.0)] + $0.1 }) {
                guard let hash = row[0].blob, let id = row[1].integer else { continue }
                ids[hash] = (id, true)
            }
        }
        let others = Set(rows.map(\.0)).subtracting(ids.keys)
        let (vanished, held) = try holding(others, in: table)
        if let hash = vanished.first {
            throw SnapshotError.database("\(table) row \(Hex.encode(hash)) vanished while being received")
        }
        for (hash, id) in held { ids[hash] = (id, false) }
        return ids
    }
}

extension Array {
    /// Consecutive slices of at most `size` elements.
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0 ..< Swift.min($0 + size, count)] }
    }
}

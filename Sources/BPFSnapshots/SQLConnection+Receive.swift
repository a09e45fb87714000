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
    /// `lacking` found. Content is inserted in hash order, so that concurrent receivers sharing
    /// content wait for each other instead of deadlocking. A row a concurrent gc deleted since
    /// the check fails a foreign key, and the transaction is retried (`SnapshotError.conflict`).
    func storeContent(_ manifest: SnapshotManifest, _ lacking: LackingContent, _ content: SnapshotContent) throws -> [[UInt8]: Int64] {
        var blobIDs = lacking.blobIDs, chunkIDs = lacking.chunkIDs, contentIDs = lacking.contentIDs, stateIDs = lacking.stateIDs
        for hash in lacking.blobs.sorted(by: Self.hashOrder) {
            guard let data = content.blobs[hash] else { throw SnapshotError.damaged("blob \(Hex.encode(hash)) was not sent") }
            blobIDs[hash] = try insertOrFind("blobs", hash: hash, columns: ["data"], [.blob(data)])
        }
        for hash in lacking.chunks.sorted(by: Self.hashOrder) {
            let entries = content.chunkEntries[hash]
            let (id, inserted) = try insertOrFindNew("chunks", hash: hash, columns: ["entry_count"], [.integer(Int64(entries?.count ?? 0))])
            if inserted {
                guard let entries else { throw SnapshotError.damaged("chunk \(Hex.encode(hash)) was not sent") }
                try insertRows(table: "chunk_entries", columns: ["chunk", "key", "value"],
                               rows: entries.map { [.integer(id), .blob($0.key), .blob($0.value)] })
            }
            chunkIDs[hash] = id
        }
        for c in manifest.contents where lacking.contents.contains(c.hash) {
            let base: SQLValue = try c.base.map { hash in
                guard let id = contentIDs[hash] else { throw SnapshotError.damaged("base of \(Hex.encode(c.hash)) is missing") }
                return .integer(id)
            } ?? .null
            let (id, inserted) = try insertOrFindNew(
                "map_contents", hash: c.hash, columns: ["key_size", "value_size", "values_per_entry", "entry_count", "base", "layer_entries"],
                [.integer(c.keySize), .integer(c.valueSize), .integer(c.valuesPerEntry), .integer(c.entryCount), base, .integer(c.layerEntries)])
            contentIDs[c.hash] = id
            guard inserted else { continue }
            try insertRows(table: "map_content_chunks", columns: ["content", "seq", "chunk"], rows: try c.chunks.enumerated().map {
                guard let chunk = chunkIDs[$0.element] else { throw SnapshotError.damaged("a chunk of \(Hex.encode(c.hash)) is missing") }
                return [.integer(id), .integer(Int64($0.offset)), .integer(chunk)]
            })
            try insertRows(table: "map_content_layers", columns: ["content", "depth", "layer"], rows: try c.layers.enumerated().map {
                guard let layer = contentIDs[$0.element] else { throw SnapshotError.damaged("layer of \(Hex.encode(c.hash)) is missing") }
                return [.integer(id), .integer(Int64($0.offset + 1)), .integer(layer)]
            })
            if c.base != nil {
                guard let deltas = content.deltas[c.hash] else { throw SnapshotError.damaged("changes of \(Hex.encode(c.hash)) were not sent") }
                try insertRows(table: "map_content_deltas", columns: ["content", "key", "value"],
                               rows: deltas.map { [.integer(id), .blob($0.key), $0.value.map(SQLValue.blob) ?? .null] })
            }
        }
        for h in manifest.handlers.sorted(by: { Self.hashOrder($0.hash, $1.hash) }) where stateIDs[h.hash] == nil {
            stateIDs[h.hash] = try insertOrFind("handler_states", hash: h.hash,
                columns: ["kind", "name", "attributes", "program", "map_content", "aot_image"],
                [.text(h.kind), h.name.map(SQLValue.text) ?? .null, .text(h.attributes),
                 h.program.flatMap { blobIDs[$0] }.map(SQLValue.integer) ?? .null,
                 h.mapContent.flatMap { contentIDs[$0] }.map(SQLValue.integer) ?? .null,
                 h.aotImage.flatMap { blobIDs[$0] }.map(SQLValue.integer) ?? .null])
        }
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

    /// The id of the row with `hash`, inserting it with `values` first if missing.
    private func insertOrFind(_ table: String, hash: [UInt8], columns: [String], _ values: [SQLValue]) throws -> Int64 {
        try insertOrFindNew(table, hash: hash, columns: columns, values).id
    }

    /// The id of the row with `hash` and whether this call inserted it. A concurrent inserter
    /// of the same hash makes this wait for its commit, then find its row.
    private func insertOrFindNew(_ table: String, hash: [UInt8], columns: [String], _ values: [SQLValue]) throws -> (id: Int64, inserted: Bool) {
        if let id = try value("SELECT id FROM \(table) WHERE hash = $1", [.blob(hash)])?.integer { return (id, false) }
        if let id = try value("""
            INSERT INTO \(table) (hash, \(columns.joined(separator: ", "))) VALUES ($1, \(Self.placeholders(values.count, from: 2)))
            ON CONFLICT (hash) DO NOTHING RETURNING id
            """, [.blob(hash)] + values)?.integer { return (id, true) }
        guard let id = try value("SELECT id FROM \(table) WHERE hash = $1", [.blob(hash)])?.integer else {
            throw SnapshotError.database("\(table) row \(Hex.encode(hash)) vanished while being received")
        }
        return (id, false)
    }
}

extension Array {
    /// Consecutive slices of at most `size` elements.
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0 ..< Swift.min($0 + size, count)] }
    }
}

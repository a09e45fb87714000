import BPFModel

/// The sending side of push and pull: a snapshot's manifest, then only the content asked for.
extension SQLConnection {
    /// What snapshot `id` is made of, by hash.
    public func manifest(of id: Int64) throws -> SnapshotManifest {
        guard let row = try rows("""
            SELECT created_at, segment_name, host, generation, message, command, user_name, uid, pid, tool_version
            FROM snapshots WHERE id = $1
            """, [.integer(id)]).first else { throw SnapshotError.unknownSnapshot(String(id)) }
        let origin = try self.origin(of: id, host: row[2].text ?? "")
        let handlers = try rows("""
            SELECT h.fd, st.hash, st.kind, st.name, st.attributes, p.hash, mc.hash, a.hash
            FROM snapshot_handlers h
            JOIN handler_states st ON st.id = h.state
            LEFT JOIN blobs p ON p.id = st.program
            LEFT JOIN map_contents mc ON mc.id = st.map_content
            LEFT JOIN blobs a ON a.id = st.aot_image
            WHERE h.snapshot = $1 ORDER BY h.fd
            """, [.integer(id)]).map {
            SnapshotManifest.Handler(fd: $0[0].integer ?? 0, hash: $0[1].blob ?? [], kind: $0[2].text ?? "", name: $0[3].text,
                                     attributes: $0[4].text ?? "{}", program: $0[5].blob, mapContent: $0[6].blob, aotImage: $0[7].blob)
        }
        let tags = try rows("SELECT name FROM tags WHERE snapshot = $1 ORDER BY name", [.integer(id)]).compactMap { $0[0].text }
        var restore: SnapshotManifest.Restore?
        if let r = try rows("""
            SELECT s.id, s.host, r.restored_at, r.fds, r.selection FROM restores r JOIN snapshots s ON s.id = r.snapshot
            WHERE r.undo_snapshot = $1
            """, [.integer(id)]).first, let restored = r[0].integer {
            restore = SnapshotManifest.Restore(restored: try self.origin(of: restored, host: r[1].text ?? ""), restoredAt: r[2].text ?? "",
                                               fds: r[3].text ?? "[]", selection: r[4].text)
        }
        return SnapshotManifest(
            origin: origin, localID: id, createdAt: row[0].text ?? "", segmentName: row[1].text ?? "",
            generation: row[3].integer ?? 0, message: row[4].text, provenance: Array(row[5...9]), tags: tags,
            handlers: handlers, restore: restore, contents: try contentsClosure(handlers.compactMap(\.mapContent)))
    }

    /// Where snapshot `id` (of `host`) was first saved: its recorded origin, else this history.
    private func origin(of id: Int64, host: String) throws -> SnapshotManifest.Origin {
        try rows("SELECT origin_store, origin_id, origin_host FROM snapshot_origins WHERE snapshot = $1", [.integer(id)])
            .first.map { SnapshotManifest.Origin(store: $0[0].text ?? "", id: $0[1].integer ?? 0, host: $0[2].text ?? "") }
            ?? SnapshotManifest.Origin(store: try storeIdentity(), id: id, host: host)
    }

    /// The contents `hashes` name, with the bases and layers they read, bases first.
    private func contentsClosure(_ hashes: [[UInt8]]) throws -> [SnapshotManifest.Contents] {
        var found: [[UInt8]: SnapshotManifest.Contents] = [:]
        var pending = Array(Set(hashes))
        while let hash = pending.popLast() {
            guard found[hash] == nil else { continue }
            guard let row = try rows("""
                SELECT c.id, c.key_size, c.value_size, c.values_per_entry, c.entry_count, b.hash, c.layer_entries
                FROM map_contents c LEFT JOIN map_contents b ON b.id = c.base WHERE c.hash = $1
                """, [.blob(hash)]).first, let id = row[0].integer else {
                throw SnapshotError.damaged("map contents \(Hex.encode(hash)) is missing")
            }
            let chunks = try rows("""
                SELECT k.hash, k.id, k.entry_count FROM map_content_chunks c JOIN chunks k ON k.id = c.chunk
                WHERE c.content = $1 ORDER BY c.seq
                """, [.integer(id)])
            let layers = try rows("""
                SELECT m.hash FROM map_content_layers l JOIN map_contents m ON m.id = l.layer WHERE l.content = $1 ORDER BY l.depth
                """, [.integer(id)]).compactMap { $0[0].blob }
            found[hash] = SnapshotManifest.Contents(
                hash: hash, localID: id, keySize: row[1].integer ?? 0, valueSize: row[2].integer ?? 0,
                valuesPerEntry: row[3].integer ?? 1, entryCount: row[4].integer ?? 0, base: row[5].blob,
                layerEntries: row[6].integer ?? 0, chunks: chunks.map { $0[0].blob ?? [] }, chunkIDs: chunks.map { $0[1].integer ?? 0 },
                chunkEntryCounts: chunks.map { $0[2].integer ?? -1 }, layers: layers)
            pending += layers + (row[5].blob.map { [$0] } ?? [])
        }
        // Bases, then layered contents by chain length, so that what one refers to arrives first.
        // Ties in hash order: concurrent receivers then take their row locks in the same order.
        return found.values.sorted {
            ($0.base == nil ? 0 : 1, $0.layers.count, Hex.encode($0.hash)) < ($1.base == nil ? 0 : 1, $1.layers.count, Hex.encode($1.hash))
        }
    }

    /// The rows behind the hashes in `lacking`, each checked against the hash it is stored
    /// under, so that damaged content fails the transfer before the receiver stores anything.
    public func content(_ manifest: SnapshotManifest, lacking: LackingContent) throws -> SnapshotContent {
        var content = SnapshotContent()
        for batch in Array(lacking.blobs).chunked(500) {
            for row in try rows("SELECT hash, data FROM blobs WHERE hash IN (\(Self.placeholders(batch.count)))", batch.map { .blob($0) }) {
                if let hash = row[0].blob, let data = row[1].blob, lacking.blobs.contains(hash) { content.blobs[hash] = data }
            }
        }
        if let hash = lacking.blobs.first(where: { content.blobs[$0] == nil }) {
            throw SnapshotError.damaged("blob \(Hex.encode(hash)) is missing")
        }
        for contents in manifest.contents where lacking.contents.contains(contents.hash) {
            let wanted = Set(contents.chunks.filter { lacking.chunks.contains($0) && content.chunkEntries[$0] == nil })
            guard !wanted.isEmpty else { continue }
            let layout = try MapContentRows.layout(contents.localID, self)
            // Most of it lacking (a first transfer): one ordered query for all its entries
            // instead of one per chunk, whose round trips cost more than the rows.
            if wanted.count * 2 >= contents.chunks.count {
                try streamChunks(of: contents, layout, keeping: wanted, into: &content.chunkEntries)
                continue
            }
            for (hash, id) in zip(contents.chunks, contents.chunkIDs) where wanted.contains(hash) && content.chunkEntries[hash] == nil {
                var entries = MapContents(keySize: layout.storedKeySize, valueSize: layout.valueSize, valuesPerEntry: layout.valuesPerEntry)
                try ChunkRows.forEach(id, keySize: layout.storedKeySize, stride: layout.stride, self) { key, value in
                    entries.append(key: key, value: value)
                }
                content.chunkEntries[hash] = entries
            }
        }
        for contents in manifest.contents where lacking.contents.contains(contents.hash) && contents.base != nil {
            content.deltas[contents.hash] = try rows("SELECT key, value FROM map_content_deltas WHERE content = $1 ORDER BY key",
                                                     [.integer(contents.localID)]).map { ($0[0].blob ?? [], $0[1].blob) }
        }
        try checkHashes(content)
        return content
    }

    /// Reads every entry of base contents `contents` in one ordered query and cuts them into
    /// its chunks by their recorded entry counts, keeping those in `wanted`. A count that
    /// disagrees with the rows fails here; one that cut in the wrong place fails the hash check.
    private func streamChunks(of contents: SnapshotManifest.Contents, _ layout: MapContentRows.Layout, keeping wanted: Set<[UInt8]>,
                              into chunkEntries: inout [[UInt8]: MapContents]) throws {
        let name = "map contents \(Hex.encode(contents.hash)) in \(location)"
        guard contents.chunkEntryCounts.count == contents.chunks.count, contents.chunkEntryCounts.allSatisfy({ $0 >= 0 }) else {
            throw SnapshotError.damaged("\(name) list chunks without a valid entry count")
        }
        var position = -1, due = 0  // the chunk being read, and how many of its entries are still to come
        var chunk: MapContents?     // its entries, when it is wanted
        func finish() {
            if let entries = chunk { chunkEntries[contents.chunks[position]] = entries }
            chunk = nil
        }
        try forEachEntry(MapContentRows.entriesInOrder, contents.localID, keySize: layout.storedKeySize, stride: layout.stride) { key, value in
            guard let value else { throw SnapshotError.damaged("\(name) hold an entry without a value") }
            while due == 0 {
                finish()
                position += 1
                guard position < contents.chunks.count else { throw SnapshotError.damaged("\(name) hold more entries than their chunks record") }
                due = Int(contents.chunkEntryCounts[position])
                let hash = contents.chunks[position]
                if wanted.contains(hash), chunkEntries[hash] == nil {
                    chunk = MapContents(keySize: layout.storedKeySize, valueSize: layout.valueSize, valuesPerEntry: layout.valuesPerEntry)
                }
            }
            chunk?.append(key: key, value: value)
            due -= 1
        }
        if position >= 0 { finish() }
        guard due == 0, contents.chunkEntryCounts[(position + 1)...].allSatisfy({ $0 == 0 }) else {
            throw SnapshotError.damaged("\(name) hold fewer entries than their chunks record")
        }
    }

    /// Every chunk and blob read must hash to the address it is stored under (chunks on every core).
    private func checkHashes(_ content: SnapshotContent) throws {
        let chunks = Array(content.chunkEntries)
        let digests = SHA256.concurrently(chunks.count) { [chunks] in MapChunks.chunkHash(chunks[$0].value) }
        for (chunk, digest) in zip(chunks, digests) where digest != chunk.key {
            throw SnapshotError.damaged("chunk \(Hex.encode(chunk.key)) in \(location) does not match its hash: its entries were changed or lost")
        }
        for (hash, data) in content.blobs where SHA256.hash(data) != hash {
            throw SnapshotError.damaged("blob \(Hex.encode(hash)) in \(location) does not match its hash")
        }
    }
}

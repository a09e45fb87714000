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
                SELECT k.hash, k.id FROM map_content_chunks c JOIN chunks k ON k.id = c.chunk WHERE c.content = $1 ORDER BY c.seq
                """, [.integer(id)])
            let layers = try rows("""
                SELECT m.hash FROM map_content_layers l JOIN map_contents m ON m.id = l.layer WHERE l.content = $1 ORDER BY l.depth
                """, [.integer(id)]).compactMap { $0[0].blob }
            found[hash] = SnapshotManifest.Contents(
                hash: hash, localID: id, keySize: row[1].integer ?? 0, valueSize: row[2].integer ?? 0,
                valuesPerEntry: row[3].integer ?? 1, entryCount: row[4].integer ?? 0, base: row[5].blob,
                layerEntries: row[6].integer ?? 0, chunks: chunks.map { $0[0].blob ?? [] }, chunkIDs: chunks.map { $0[1].integer ?? 0 },
                layers: layers)
            pending += layers + (row[5].blob.map { [$0] } ?? [])
        }
        // Bases, then layered contents by chain length, so that what one refers to arrives first.
        // Ties in hash order: concurrent receivers then take their row locks in the same order.
        return found.values.sorted {
            ($0.base == nil ? 0 : 1, $0.layers.count, Hex.encode($0.hash)) < ($1.base == nil ? 0 : 1, $1.layers.count, Hex.encode($1.hash))
        }
    }

    /// The rows behind the hashes in `lacking`.
    public func content(_ manifest: SnapshotManifest, lacking: LackingContent) throws -> SnapshotContent {
        var content = SnapshotContent()
        for hash in lacking.blobs {
            guard let data = try value("SELECT data FROM blobs WHERE hash = $1", [.blob(hash)])?.blob else {
                throw SnapshotError.damaged("blob \(Hex.encode(hash)) is missing")
            }
            content.blobs[hash] = data
        }
        // Chunks straight into flat buffers, through the engine's hot path for map entries.
        for contents in manifest.contents where lacking.contents.contains(contents.hash) {
            let layout = try MapContentRows.layout(contents.localID, self)
            for (hash, id) in zip(contents.chunks, contents.chunkIDs) where lacking.chunks.contains(hash) && content.chunkEntries[hash] == nil {
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
        return content
    }
}

import BPFModel
import Foundation
import GRDB

/// A map's contents as its chunks' hashes, with a way to read the entries of some of them.
/// Chunks on both sides hold the same entries, and no key of theirs appears elsewhere on either
/// side (keys are unique), so only the other chunks need comparing.
struct ChunkList {
    var hashes: [[UInt8]]
    /// The entries of the chunks at these positions, in order, keys as stored.
    var entries: ([Int]) throws -> MapContents

    static func diff(_ a: ChunkList, _ b: ChunkList, detail: MapContentsDiff.Detail) throws -> MapContentsDiff {
        let shared = Set(a.hashes).intersection(b.hashes)
        let old = try a.entries(a.hashes.indices.filter { !shared.contains(a.hashes[$0]) })
        let new = try b.entries(b.hashes.indices.filter { !shared.contains(b.hashes[$0]) })
        return MapContentsDiff.between(SortedEntries(sorted: old), SortedEntries(sorted: new), detail: detail)
    }

    /// Stored contents. A layered one is its base's chunks, where a chunk whose key range a
    /// layer touched gets a hash of its own (so it never matches) and reads with the layers'
    /// changes applied.
    static func stored(_ content: Int64, _ db: any SQLConnection) throws -> ChunkList {
        let layout = try MapContentRows.layout(content, db)
        let rows = try db.rows("""
            SELECT ch.id, ch.hash FROM map_content_chunks c JOIN chunks ch ON ch.id = c.chunk
            WHERE c.content = $1 ORDER BY c.seq
            """, [.integer(layout.base ?? content)])
        let ids = try rows.map { row in
            guard let id = row[0].integer else { throw SnapshotError.damaged("map contents \(content) list a chunk without an id") }
            return id
        }
        var hashes = rows.map { $0[1].blob ?? [] }
        guard layout.base != nil else {
            return ChunkList(hashes: hashes) { positions in try MapContentRows.entries(positions.map { ids[$0] }, layout, db) }
        }
        // A layer is only saved over a base that holds most of its entries.
        guard !ids.isEmpty else { throw SnapshotError.database("map contents \(content) is layered over an empty base") }
        let overlay = try Overlay.load(content, layout, db)
        let firstKeys = try BaseLookup(layout.base ?? content, layout, db).firstKeys
        // Chunk p holds the keys from its first key up to the next chunk's first key.
        var spans: [Range<Int>] = []
        var next = 0
        for p in hashes.indices {
            let start = next
            if p + 1 < ids.count {
                while next < overlay.count, overlay.key(next).lexicographicallyPrecedes(firstKeys[p + 1]) { next += 1 }
            } else {
                next = overlay.count
            }
            spans.append(start ..< next)
            // Not 32 bytes, so no real chunk hash; unique per contents and position.
            if start < next { hashes[p] = Array("layered \(content) \(p)".utf8) }
        }
        return ChunkList(hashes: hashes) { positions in
            var contents = MapContents(keySize: layout.storedKeySize, valueSize: layout.valueSize, valuesPerEntry: layout.valuesPerEntry)
            let progress = WorkProgress.current
            for p in positions {
                let before = contents.count
                try overlay.merge(spans[p], into: &contents) { emit in
                    try ChunkRows.forEach(ids[p], keySize: layout.storedKeySize, stride: layout.stride, db, emit)
                }
                progress?.advance(contents.count - before)
            }
            return contents
        }
    }

    static func live(_ map: MapChunks) -> ChunkList {
        ChunkList(hashes: map.chunks.map(\.hash)) { positions in
            var contents = MapContents(keySize: map.storedKeySize, valueSize: map.valueSize, valuesPerEntry: map.valuesPerEntry)
            for chunk in positions.map({ map.chunks[$0] }) {
                for i in chunk.start ..< chunk.start + chunk.count {
                    let entry = i * map.entrySize
                    contents.append(key: map.entries[entry ..< entry + map.storedKeySize],
                                    value: map.entries[entry + map.storedKeySize ..< entry + map.entrySize])
                }
            }
            return contents
        }
    }
}

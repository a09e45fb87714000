import BPFModel
import Foundation
import GRDB

/// Map contents are stored as a *base* (all entries, in content-addressed chunks) or as a
/// *layer*: the changes against the contents saved before it, over that one's base. A layered
/// contents reads as its base with the changes of every layer of its chain applied, newest
/// winning, so saving k changed entries adds k rows wherever they are in the key space. A save
/// stores a new base instead (sharing every unchanged chunk with the old one) once the chain
/// holds more changes than a quarter of the map or is `maximumDepth` layers deep, which bounds
/// what reading costs beyond the base.
enum MapLayers {
    static let maximumDepth = 256
    /// A chain may hold up to 1/`rebaseFraction` of the map's entries in changes.
    static let rebaseFraction = 4

    /// Stores `map` (whose hash no stored contents has) as a layer over `parent`, the same
    /// map's contents in the snapshot saved before, when that is worth it; else as a base.
    static func store(_ map: MapChunks, over parent: Int64?, _ db: Database) throws -> Int64 {
        if let parent, let id = try storeLayer(map, over: parent, db) { return id }
        return try storeBase(map, db)
    }

    private static func storeLayer(_ map: MapChunks, over parent: Int64, _ db: Database) throws -> Int64? {
        let connection = SQLiteConnection(db: db, location: "")
        let p = try MapContentRows.layout(parent, connection)
        guard (p.keySize, p.valueSize, p.valuesPerEntry) == (map.keySize, map.valueSize, map.valuesPerEntry),
              p.depth < maximumDepth else { return nil }
        let changes = try ChunkList.diff(.stored(parent, connection), .live(map), detail: .entries)
        let layerEntries = p.layerEntries + changes.addedCount + changes.removedCount + changes.changedCount
        guard layerEntries * rebaseFraction <= max(map.count, p.count) else { return nil }
        try db.cachedStatement(sql: """
            INSERT INTO map_contents (hash, key_size, value_size, values_per_entry, entry_count, base, layer_entries)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [Data(map.hash), map.keySize, map.valueSize, map.valuesPerEntry, map.count,
                                     p.base ?? parent, layerEntries])
        let id = db.lastInsertedRowID
        try db.cachedStatement(sql: """
            INSERT INTO map_content_layers (content, depth, layer) SELECT ?, depth, layer FROM map_content_layers WHERE content = ?
            """).execute(arguments: [id, parent])
        try db.cachedStatement(sql: "INSERT INTO map_content_layers (content, depth, layer) VALUES (?, ?, ?)")
            .execute(arguments: [id, p.depth + 1, id])
        try ChunkRows.insertDelta(changes, content: id, db)
        return id
    }

    private static func storeBase(_ map: MapChunks, _ db: Database) throws -> Int64 {
        try db.cachedStatement(sql: """
            INSERT INTO map_contents (hash, key_size, value_size, values_per_entry, entry_count) VALUES (?, ?, ?, ?, ?)
            """).execute(arguments: [Data(map.hash), map.keySize, map.valueSize, map.valuesPerEntry, map.count])
        let contentID = db.lastInsertedRowID
        let insertLink = try db.cachedStatement(sql: "INSERT INTO map_content_chunks (content, seq, chunk) VALUES (?, ?, ?)")
        let findChunk = try db.cachedStatement(sql: "SELECT id FROM chunks WHERE hash = ?")
        let insertChunk = try db.cachedStatement(sql: "INSERT INTO chunks (hash, entry_count) VALUES (?, ?)")
        for (seq, chunk) in map.chunks.enumerated() {
            var chunkID = try Int64.fetchOne(findChunk, arguments: [Data(chunk.hash)])
            if chunkID == nil {
                try insertChunk.execute(arguments: [Data(chunk.hash), chunk.count])
                let id = db.lastInsertedRowID
                try ChunkRows.insert(chunk, of: map, id: id, db)
                chunkID = id
            }
            try insertLink.execute(arguments: [contentID, seq, chunkID])
            WorkProgress.current?.advance(chunk.count)
        }
        return contentID
    }
}

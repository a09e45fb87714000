import Foundation
import GRDB

/// The hot path: a chunk's entries as `chunk_entries` rows, one per key, written and read
/// through one cached statement each.
enum ChunkRows {
    static func insert(_ chunk: MapChunks.Chunk, of map: MapChunks, id: Int64, _ db: Database) throws {
        let statement = try db.cachedStatement(sql: "INSERT INTO chunk_entries (chunk, key, value) VALUES (?, ?, ?)")
        let (keySize, stride, entrySize) = (map.storedKeySize, map.stride, map.entrySize)
        try map.entries.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            for i in chunk.start ..< chunk.start + chunk.count {
                let entry = base + i * entrySize
                try statement.execute(arguments: [
                    id,
                    Data(bytes: entry, count: keySize),
                    Data(bytes: entry + keySize, count: stride),
                ])
            }
        }
    }

    /// Calls `body(key, value)` for each entry of chunk `id` in key order, after checking sizes.
    static func forEach(_ id: Int64, keySize: Int, stride: Int, _ db: Database,
                        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) throws {
        let rows = try Row.fetchCursor(
            db.cachedStatement(sql: "SELECT key, value FROM chunk_entries WHERE chunk = ? ORDER BY key"), arguments: [id])
        while let row = try rows.next() {
            try row.withUnsafeData(atIndex: 0) { key in
                try row.withUnsafeData(atIndex: 1) { value in
                    guard let key, let value, key.count == keySize, value.count == stride else {
                        throw SnapshotError.database("chunk \(id) holds an entry of the wrong size")
                    }
                    try key.withUnsafeBytes { k in try value.withUnsafeBytes { v in try body(k, v) } }
                }
            }
        }
    }
}

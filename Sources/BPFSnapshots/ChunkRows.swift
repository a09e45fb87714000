#if canImport(GRDBSQLite)
import GRDBSQLite
#else
import SQLite3
#endif
import GRDB

/// The hot path: a chunk's entries as `chunk_entries` rows, one per key, written and read
/// through one cached statement each. Values are bound and read straight from and into the
/// flat buffers with SQLite's C API: building GRDB arguments and rows for a million entries
/// would cost more than SQLite's own work.
enum ChunkRows {
    static func insert(_ chunk: MapChunks.Chunk, of map: MapChunks, id: Int64, _ db: Database) throws {
        let statement = try db.cachedStatement(sql: "INSERT INTO chunk_entries (chunk, key, value) VALUES (?, ?, ?)")
        let raw = statement.sqliteStatement
        let (keySize, stride, entrySize) = (Int32(map.storedKeySize), Int32(map.stride), map.entrySize)
        defer { sqlite3_reset(raw); sqlite3_clear_bindings(raw) }
        try map.entries.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            for i in chunk.start ..< chunk.start + chunk.count {
                let entry = base + i * entrySize
                sqlite3_reset(raw)
                // SQLITE_STATIC (nil): the buffer outlives the step; SQLite copies into the page.
                sqlite3_bind_int64(raw, 1, id)
                sqlite3_bind_blob(raw, 2, entry, keySize, nil)
                sqlite3_bind_blob(raw, 3, entry + Int(keySize), stride, nil)
                let code = sqlite3_step(raw)
                guard code == SQLITE_DONE else { throw error(code, db) }
            }
        }
    }

    /// Calls `body(key, value)` for each entry of chunk `id` in key order, after checking sizes.
    static func forEach(_ id: Int64, keySize: Int, stride: Int, _ db: Database,
                        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) throws {
        let statement = try db.cachedStatement(sql: "SELECT key, value FROM chunk_entries WHERE chunk = ? ORDER BY key")
        let raw = statement.sqliteStatement
        sqlite3_reset(raw)
        defer { sqlite3_reset(raw) }
        sqlite3_bind_int64(raw, 1, id)
        while true {
            let code = sqlite3_step(raw)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else { throw error(code, db) }
            let key = sqlite3_column_blob(raw, 0), keyLength = Int(sqlite3_column_bytes(raw, 0))
            let value = sqlite3_column_blob(raw, 1), valueLength = Int(sqlite3_column_bytes(raw, 1))
            guard let key, let value, keyLength == keySize, valueLength == stride else {
                throw SnapshotError.database("chunk \(id) holds an entry of the wrong size")
            }
            try body(UnsafeRawBufferPointer(start: key, count: keyLength), UnsafeRawBufferPointer(start: value, count: valueLength))
        }
    }

    private static func error(_ code: Int32, _ db: Database) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
    }
}

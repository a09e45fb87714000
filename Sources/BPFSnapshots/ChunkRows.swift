#if canImport(GRDBSQLite)
import GRDBSQLite
#else
import SQLite3
#endif
import BPFModel
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

    /// Writes a received chunk's entries (`keySize` key bytes and `entryStride` value bytes each).
    static func insert(_ entries: MapContents, chunk id: Int64, _ db: Database) throws {
        let statement = try db.cachedStatement(sql: "INSERT INTO chunk_entries (chunk, key, value) VALUES (?, ?, ?)")
        let raw = statement.sqliteStatement
        let (keySize, stride) = (entries.keySize, entries.entryStride)
        defer { sqlite3_reset(raw); sqlite3_clear_bindings(raw) }
        try entries.keys.withUnsafeBytes { keys in
            try entries.values.withUnsafeBytes { values in
                guard keySize > 0, let k = keys.baseAddress, let v = values.baseAddress else { return }
                for i in 0 ..< keys.count / keySize {
                    sqlite3_reset(raw)
                    sqlite3_bind_int64(raw, 1, id)
                    sqlite3_bind_blob(raw, 2, k + i * keySize, Int32(keySize), nil)
                    sqlite3_bind_blob(raw, 3, v + i * stride, Int32(stride), nil)
                    let code = sqlite3_step(raw)
                    guard code == SQLITE_DONE else { throw error(code, db) }
                }
            }
        }
    }

    /// Calls `body(key, value)` for each entry of chunk `id` in key order, after checking sizes.
    static func forEach(_ id: Int64, keySize: Int, stride: Int, _ db: any SQLConnection,
                        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) throws {
        try db.forEachEntry("SELECT key, value FROM chunk_entries WHERE chunk = $1 ORDER BY key", id, keySize: keySize, stride: stride) { key, value in
            guard let value else { throw SnapshotError.database("chunk \(id) holds an entry without a value") }
            try body(key, value)
        }
    }

    /// Calls `body(key, value)` for each (key, value or NULL) row `sql` gives for `id`, after
    /// checking their sizes.
    static func rows(_ sql: String, _ id: Int64, keySize: Int, stride: Int, _ db: Database,
                     _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) throws -> Void) throws {
        let statement = try db.cachedStatement(sql: sql)
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
            // Only a missing pointer can be NULL (or an empty value): the type is asked only then.
            let isNull = value == nil && sqlite3_column_type(raw, 1) == SQLITE_NULL
            guard let key, keyLength == keySize, isNull || (value != nil && valueLength == stride) else {
                throw SnapshotError.database("map contents \(id) hold an entry of the wrong size")
            }
            try body(UnsafeRawBufferPointer(start: key, count: keyLength),
                     isNull ? nil : UnsafeRawBufferPointer(start: value, count: valueLength))
        }
    }

    /// Writes one layer's changes in key order (appended in order, the pages stay full):
    /// `(key, value)` rows, NULL values for deleted keys.
    static func insertDelta(_ changes: MapContentsDiff, content: Int64, _ db: Database) throws {
        let statement = try db.cachedStatement(sql: "INSERT INTO map_content_deltas (content, key, value) VALUES (?, ?, ?)")
        let raw = statement.sqliteStatement
        defer { sqlite3_reset(raw); sqlite3_clear_bindings(raw) }
        func insert(_ key: ArraySlice<UInt8>, _ value: ArraySlice<UInt8>?) throws {
            sqlite3_reset(raw)
            sqlite3_bind_int64(raw, 1, content)
            let code = key.withUnsafeBytes { k in
                sqlite3_bind_blob(raw, 2, k.baseAddress, Int32(k.count), nil)
                guard let value else {
                    sqlite3_bind_null(raw, 3)
                    return sqlite3_step(raw)
                }
                return value.withUnsafeBytes { v in
                    sqlite3_bind_blob(raw, 3, v.baseAddress, Int32(v.count), nil)
                    return sqlite3_step(raw)
                }
            }
            guard code == SQLITE_DONE else { throw error(code, db) }
        }
        // Three key-sorted lists with distinct keys, merged.
        let (removed, added, changed) = (changes.removed, changes.added, changes.changed)
        var (r, a, c) = (0, 0, 0)
        while true {
            let heads = [r < removed.count ? removed.key(at: r) : nil, a < added.count ? added.key(at: a) : nil,
                         c < changed.count ? changed.key(at: c) : nil]
            let first = heads.indices.compactMap { i in heads[i].map { (i, $0) } }.min { $0.1.lexicographicallyPrecedes($1.1) }
            switch first?.0 {
            case 0: try insert(removed.key(at: r), nil); r += 1
            case 1: try insert(added.key(at: a), added.value(at: a)); a += 1
            case 2: try insert(changed.key(at: c), changed.newValue(at: c)); c += 1
            default: return
            }
        }
    }

    private static func error(_ code: Int32, _ db: Database) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
    }
}

import BPFModel
import Foundation
import GRDB

extension SnapshotStore {
    /// Runs `body` with this history as an `SQLConnection` (one SQLite connection, writes allowed).
    public func withConnection<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        try guarded {
            try pool.writeWithoutTransaction { db in try body(SQLiteConnection(db: db, location: path)) }
        }
    }

    /// Runs `body` with a read of this history as an `SQLConnection` (one consistent view).
    public func withReadConnection<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        try guarded { try pool.read { db in try body(SQLiteConnection(db: db, location: path)) } }
    }
}

extension Database {
    /// This connection as an `SQLConnection`, for the algorithms both engines run.
    var history: any SQLConnection { SQLiteConnection(db: self, location: "") }
}

/// The SQLite history as an `SQLConnection`: `$N` placeholders are SQLite's `?N`.
final class SQLiteConnection: SQLConnection {
    let db: Database
    let location: String

    init(db: Database, location: String) {
        self.db = db
        self.location = location
    }

    func rows(_ sql: String, _ arguments: [SQLValue]) throws -> [[SQLValue]] {
        try Row.fetchAll(db.cachedStatement(sql: Self.sqlite(sql)), arguments: Self.arguments(arguments)).map { row in
            row.databaseValues.map { value in
                switch value.storage {
                case .null: .null
                case .int64(let v): .integer(v)
                case .double(let v): .integer(Int64(v))
                case .string(let v): .text(v)
                case .blob(let v): .blob([UInt8](v))
                }
            }
        }
    }

    func forEachEntry(_ sql: String, _ id: Int64, keySize: Int, stride: Int,
                      _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) throws -> Void) throws {
        try ChunkRows.rows(Self.sqlite(sql), id, keySize: keySize, stride: stride, db, body)
    }

    func execute(_ sql: String, _ arguments: [SQLValue]) throws {
        try db.execute(sql: Self.sqlite(sql), arguments: Self.arguments(arguments))
    }

    func insertRows(table: String, columns: [String], rows: [[SQLValue]]) throws {
        let statement = try db.cachedStatement(
            sql: "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", ")))")
        for row in rows { try statement.execute(arguments: Self.arguments(row)) }
    }

    func insertChunkEntries(_ chunks: [(id: Int64, entries: MapContents)]) throws {
        for chunk in chunks { try ChunkRows.insert(chunk.entries, chunk: chunk.id, db) }
    }

    func transaction<T>(_ body: () throws -> T) throws -> T {
        var result: T?
        try db.inTransaction(.immediate) {
            result = try body()
            return .commit
        }
        return result!
    }

    /// `$N` as `?N`; statements are few and run often, so each is converted once.
    private static func sqlite(_ sql: String) -> String {
        lock.lock()
        defer { lock.unlock() }
        if let known = converted[sql] { return known }
        // A `$` before a digit becomes `?`. No regular expression: compiling one cost more than
        // a recorded change's whole SQL work, in every process.
        var bytes = Array(sql.utf8)
        for i in bytes.indices.dropLast() where bytes[i] == UInt8(ascii: "$") && (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(bytes[i + 1]) {
            bytes[i] = UInt8(ascii: "?")
        }
        let text = String(decoding: bytes, as: UTF8.self)
        converted[sql] = text
        return text
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var converted: [String: String] = [:]

    private static func arguments(_ values: [SQLValue]) -> StatementArguments {
        StatementArguments(values.map { value -> DatabaseValueConvertible? in
            switch value {
            case .null: nil
            case .integer(let v): v
            case .text(let v): v
            case .blob(let v): Data(v)
            }
        })
    }
}

import BPFModel
import Foundation

/// A value as it crosses between the SQLite and PostgreSQL histories.
public enum SQLValue: Hashable, Sendable {
    case null
    case integer(Int64)
    case text(String)
    case blob([UInt8])

    public var integer: Int64? { if case .integer(let v) = self { v } else { nil } }
    public var text: String? { if case .text(let v) = self { v } else { nil } }
    public var blob: [UInt8]? { if case .blob(let v) = self { v } else { nil } }
}

/// One connection to a history, SQLite or PostgreSQL, speaking the SQL both engines share
/// (`$1` placeholders, `ON CONFLICT DO NOTHING`, `RETURNING`): push, pull and the fleet queries
/// are written once against it.
public protocol SQLConnection: AnyObject {
    /// The rows `sql` returns.
    func rows(_ sql: String, _ arguments: [SQLValue]) throws -> [[SQLValue]]
    /// Runs `sql` for its effect.
    func execute(_ sql: String, _ arguments: [SQLValue]) throws
    /// Calls `body(key, value)` for each row `sql` returns with `$1` bound to `id`: a key of
    /// `keySize` bytes and a value of `stride` bytes or NULL, sizes checked before the call. The
    /// hot path of reading map contents (SQLite's C API straight into the caller's buffers).
    func forEachEntry(_ sql: String, _ id: Int64, keySize: Int, stride: Int,
                      _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) throws -> Void) throws
    /// Adds many rows to one table as fast as the engine can (COPY on PostgreSQL).
    func insertRows(table: String, columns: [String], rows: [[SQLValue]]) throws
    /// Adds the `chunk_entries` rows of new chunks (keys as stored) from their flat buffers: the
    /// hot path of storing map contents, one COPY on PostgreSQL.
    func insertChunkEntries(_ chunks: [(id: Int64, entries: MapContents)]) throws
    /// Runs `body` in one transaction: all of it is committed, or none.
    func transaction<T>(_ body: () throws -> T) throws -> T
    /// Where this connection leads, for messages (passwords masked).
    var location: String { get }
}

extension SQLConnection {
    /// The first column of the first row, if any.
    func value(_ sql: String, _ arguments: [SQLValue] = []) throws -> SQLValue? {
        try rows(sql, arguments).first?.first
    }

    /// This history's identity (`store_identity`), recorded as the origin of what it sends.
    public func storeIdentity() throws -> String {
        guard let id = try value("SELECT id FROM store_identity")?.text else {
            throw SnapshotError.damaged("\(location) has no store identity")
        }
        return id
    }

    /// `$1, $2, ..., $n`.
    static func placeholders(_ count: Int, from first: Int = 1) -> String {
        (first ..< first + count).map { "$\($0)" }.joined(separator: ", ")
    }
}

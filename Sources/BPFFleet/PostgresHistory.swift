import BPFLogging
import BPFModel
import BPFSnapshots
import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO

/// The snapshot history in a PostgreSQL database, as an `SQLConnection`: one connection,
/// opened and brought to the current schema by `connect`. The CLI is synchronous, so every call
/// waits for postgres-nio's answer. A connection the server closed is opened again by the next
/// statement that starts outside a transaction (a long-running `snap serve` outlives a server
/// restart); a transaction it cut is never resumed, its statements fail.
public final class PostgresHistory: SQLConnection, @unchecked Sendable {
    private var connection: PostgresConnection
    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    public let location: String

    private init(connection: PostgresConnection, configuration: PostgresConnection.Configuration, logger: Logger, location: String) {
        self.connection = connection
        self.configuration = configuration
        self.logger = logger
        self.location = location
    }

    /// Connects (TLS as `sslmode` asks) and applies the migrations this build carries; a
    /// database from a newer schema, or whose applied migration differs, is refused untouched.
    public static func connect(_ address: PostgresAddress) throws -> PostgresHistory {
        let location = address.redacted
        // postgres-nio's own logging stays off: nothing it logs can carry the password.
        let logger = Logger(label: "postgres", factory: { _ in SwiftLogNoOpLogHandler() })
        var configuration: PostgresConnection.Configuration
        if address.isUnixSocket {
            configuration = .init(unixSocketPath: "\(address.host)/.s.PGSQL.\(address.port)", username: address.user,
                                  password: address.password, database: address.database)
        } else {
            configuration = .init(host: address.host, port: address.port, username: address.user, password: address.password,
                                  database: address.database, tls: try tls(address.tls))
        }
        // No JIT: the history's statements are index lookups, and a plan whose cost estimate is
        // high (fresh tables without statistics) spent 0.7 s compiling one `snap list`.
        configuration.options.additionalStartupParameters = [("jit", "off")]
        let history = PostgresHistory(connection: try open(configuration, logger: logger, location: location),
                                      configuration: configuration, logger: logger, location: location)
        do {
            try history.setUpSession()
            try history.migrate()
        } catch {
            history.close()
            throw error
        }
        return history
    }

    private static func open(_ configuration: PostgresConnection.Configuration, logger: Logger, location: String) throws -> PostgresConnection {
        do {
            return try wait { try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger) }
        } catch {
            throw SnapshotError.cannotOpen(path: location, reason: reason(error))
        }
    }

    /// A server waiting on a lock does not read its socket: without this, a push killed
    /// (SIGTERM, SIGINT, kill -9) while it waits stays in the server, holding the rows its
    /// transaction inserted, until the lock comes. With it, the server looks every second,
    /// rolls the transaction back and leaves. (PostgreSQL 14 and later have the setting.)
    private func setUpSession() throws {
        try execute("""
            SELECT set_config('client_connection_check_interval', '1000', false)
            WHERE current_setting('server_version_num')::int >= 140000
            """, [])
    }

    /// Ends the connection; every user calls it (a deinit cannot wait for the close).
    public func close() {
        let connection = connection
        _ = try? Self.wait { try await connection.close() }
    }

    /// libpq's `sslmode`: `require` encrypts without checking the certificate, `verify-*` check it.
    private static func tls(_ mode: PostgresAddress.TLSMode) throws -> PostgresConnection.Configuration.TLS {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch mode {
        case .disable: return .disable
        case .allow, .prefer:
            tls.certificateVerification = .none
            return .prefer(try NIOSSLContext(configuration: tls))
        case .require:
            tls.certificateVerification = .none
            return .require(try NIOSSLContext(configuration: tls))
        case .verifyCA:
            tls.certificateVerification = .noHostnameVerification
            return .require(try NIOSSLContext(configuration: tls))
        case .verifyFull:
            return .require(try NIOSSLContext(configuration: tls))
        }
    }

    // MARK: SQLConnection

    public func rows(_ sql: String, _ arguments: [SQLValue]) throws -> [[SQLValue]] {
        let query = PostgresQuery(unsafeSQL: sql, binds: Self.bindings(arguments))
        return try run {
            var rows: [[SQLValue]] = []
            for try await row in try await self.connection.query(query, logger: self.logger) {
                rows.append(try row.map(Self.value))
            }
            return rows
        }
    }

    /// The rows are gathered into two flat buffers, then handed to `body` one by one.
    public func forEachEntry(_ sql: String, _ id: Int64, keySize: Int, stride: Int,
                             _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) throws -> Void) throws {
        let query = PostgresQuery(unsafeSQL: sql, binds: Self.bindings([.integer(id)]))
        let (keys, values, present) = try run {
            var keys: [UInt8] = [], values: [UInt8] = [], present: [Bool] = []
            for try await row in try await self.connection.query(query, logger: self.logger) {
                var cells = row.makeIterator()
                guard let key = cells.next()?.bytes, key.readableBytes == keySize, let value = cells.next() else {
                    throw SnapshotError.database("map contents \(id) hold an entry of the wrong size")
                }
                keys.append(contentsOf: key.readableBytesView)
                if let bytes = value.bytes {
                    guard bytes.readableBytes == stride else { throw SnapshotError.database("map contents \(id) hold an entry of the wrong size") }
                    values.append(contentsOf: bytes.readableBytesView)
                    present.append(true)
                } else {
                    values.append(contentsOf: repeatElement(0, count: stride))
                    present.append(false)
                }
            }
            return (keys, values, present)
        }
        try keys.withUnsafeBytes { k in
            try values.withUnsafeBytes { v in
                for i in present.indices {
                    try body(UnsafeRawBufferPointer(rebasing: k[i * keySize ..< (i + 1) * keySize]),
                             present[i] ? UnsafeRawBufferPointer(rebasing: v[i * stride ..< (i + 1) * stride]) : nil)
                }
            }
        }
    }

    public func execute(_ sql: String, _ arguments: [SQLValue]) throws {
        _ = try rows(sql, arguments)
    }

    /// COPY ... FROM STDIN in text format.
    public func insertRows(table: String, columns: [String], rows: [[SQLValue]]) throws {
        guard !rows.isEmpty else { return }
        try run {
            try await self.connection.copyFrom(table: table, columns: columns, logger: self.logger) { writer in
                var buffer = ByteBuffer()
                buffer.reserveCapacity(1 << 20)
                for row in rows {
                    for (index, value) in row.enumerated() {
                        if index > 0 { buffer.writeInteger(UInt8(ascii: "\t")) }
                        Self.writeCopyText(value, to: &buffer)
                    }
                    buffer.writeInteger(UInt8(ascii: "\n"))
                    if buffer.readableBytes >= 1 << 20 {
                        try await writer.write(buffer)
                        buffer.clear()
                    }
                }
                if buffer.readableBytes > 0 { try await writer.write(buffer) }
            }
        }
    }

    /// One COPY for every chunk, each row written straight from the flat buffers.
    public func insertChunkEntries(_ chunks: [(id: Int64, entries: MapContents)]) throws {
        guard !chunks.isEmpty else { return }
        try run {
            try await self.connection.copyFrom(table: "chunk_entries", columns: ["chunk", "key", "value"], logger: self.logger) { writer in
                var buffer = ByteBuffer()
                buffer.reserveCapacity(1 << 20)
                for (id, entries) in chunks {
                    Self.writeCopyText(id, entries, to: &buffer)
                    if buffer.readableBytes >= 1 << 20 {
                        try await writer.write(buffer)
                        buffer.clear()
                    }
                }
                if buffer.readableBytes > 0 { try await writer.write(buffer) }
            }
        }
    }

    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try inTransaction("BEGIN", body)
    }

    /// Runs `body`, a read of one or more snapshots, in one REPEATABLE READ read-only
    /// transaction: it sees the history as of its first statement, so a gc, rm or push
    /// committing meanwhile cannot tear what it reads.
    func consistentRead<T>(_ body: () throws -> T) throws -> T {
        try inTransaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body)
    }

    /// Transactions opened by `transaction` or `consistentRead` and not yet ended: one inside
    /// another joins it (PostgreSQL has no nested BEGIN; a second COMMIT would end the outer one).
    private var depth = 0

    private func inTransaction<T>(_ begin: String, _ body: () throws -> T) throws -> T {
        guard depth == 0 else { return try body() }
        do {
            try simple(begin)
        } catch where connection.isClosed {
            // The server cut the connection between two calls, which postgres-nio may notice
            // only as this BEGIN goes out. BEGIN changes nothing: send it again on a new one.
            try simple(begin)
        }
        depth += 1
        defer { depth -= 1 }
        do {
            let result = try body()
            try simple("COMMIT")
            return result
        } catch {
            try? simple("ROLLBACK")
            throw error
        }
    }

    // MARK: Schema

    private func migrate() throws {
        try transaction {
            // One migrator at a time, across every host pointed at this database.
            try execute("SELECT pg_advisory_xact_lock(7386419)", [])
            try execute("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                """, [])
            let applied = try rows("SELECT version, name, checksum FROM schema_migrations ORDER BY version", [])
            let known = SchemaMigration.postgres
            for row in applied {
                let version = Int(row[0].integer ?? 0), name = row[1].text ?? ""
                guard let migration = known.first(where: { $0.version == version }) else {
                    throw SnapshotError.newerSchema(path: location, version: version, name: name)
                }
                guard migration.checksum == row[2].text, migration.name == name else {
                    throw SnapshotError.changedMigration(path: location, version: version, name: name)
                }
            }
            let done = Set(applied.compactMap { $0[0].integer.map(Int.init) })
            for migration in known where !done.contains(migration.version) {
                for statement in SQLStatements.split(migration.sql) { try execute(statement, []) }
                try execute("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                            [.integer(Int64(migration.version)), .text(migration.name), .text(migration.checksum)])
            }
        }
    }

    /// Runs one statement without parameters (transaction control).
    private func simple(_ sql: String) throws {
        try execute(sql, [])
    }

    // MARK: Values

    private static func bindings(_ values: [SQLValue]) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: values.count)
        for value in values {
            switch value {
            case .null: bindings.appendNull()
            case .integer(let v): bindings.append(v)
            case .text(let v): bindings.append(v)
            case .blob(let v): bindings.append(ByteBuffer(bytes: v))
            }
        }
        return bindings
    }

    private static func value(_ cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8, .oid: return .integer(try cell.decode(Int64.self))
        case .bool: return .integer(try cell.decode(Bool.self) ? 1 : 0)
        case .bytea:
            var buffer = try cell.decode(ByteBuffer.self)
            return .blob(buffer.readBytes(length: buffer.readableBytes) ?? [])
        default: return .text(try cell.decode(String.self))
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// One value in COPY's text format: `\N` for NULL, `\\x<hex>` for bytes, text escaped.
    private static func writeCopyText(_ value: SQLValue, to buffer: inout ByteBuffer) {
        switch value {
        case .null: buffer.writeString("\\N")
        case .integer(let v): buffer.writeString(String(v))
        case .blob(let bytes):
            bytes.withUnsafeBytes { writeCopyBytes($0, to: &buffer) }
        case .text(let text):
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "\\"): buffer.writeString("\\\\")
                case UInt8(ascii: "\t"): buffer.writeString("\\t")
                case UInt8(ascii: "\n"): buffer.writeString("\\n")
                case UInt8(ascii: "\r"): buffer.writeString("\\r")
                default: buffer.writeInteger(byte)
                }
            }
        }
    }

    /// A chunk's entries as COPY text rows: `id`, then key and value as `\\x<hex>`. Laid out
    /// in one array, then written to the buffer at once: a buffer call per field cost more
    /// than the server's work.
    private static func writeCopyText(_ id: Int64, _ entries: MapContents, to buffer: inout ByteBuffer) {
        let chunk = Array("\(id)\t".utf8), keySize = entries.keySize, stride = entries.entryStride
        let count = keySize > 0 ? entries.keys.count / keySize : 0
        let row = chunk.count + (3 + 2 * keySize) + 1 + (3 + 2 * stride) + 1
        let text = [UInt8](unsafeUninitializedCapacity: count * row) { out, written in
            entries.keys.withUnsafeBytes { keys in
                entries.values.withUnsafeBytes { values in
                    var at = 0
                    func put(_ byte: UInt8) {
                        out[at] = byte
                        at += 1
                    }
                    func put(_ bytes: UnsafeRawBufferPointer) { at = putCopyBytes(bytes, into: UnsafeMutableRawBufferPointer(out), at: at) }
                    for i in 0 ..< count {
                        for byte in chunk { put(byte) }
                        put(UnsafeRawBufferPointer(rebasing: keys[i * keySize ..< (i + 1) * keySize]))
                        put(UInt8(ascii: "\t"))
                        put(UnsafeRawBufferPointer(rebasing: values[i * stride ..< (i + 1) * stride]))
                        put(UInt8(ascii: "\n"))
                    }
                    written = at
                }
            }
        }
        buffer.writeBytes(text)
    }

    /// Bytes in COPY's text format: `\\x` and two hex digits a byte.
    private static func writeCopyBytes(_ bytes: UnsafeRawBufferPointer, to buffer: inout ByteBuffer) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 3 + 2 * bytes.count) { putCopyBytes(bytes, into: $0, at: 0) }
    }

    /// Puts `bytes` in COPY's text format at `start` of `out` (room for 3 + 2 per byte); returns
    /// where they end.
    private static func putCopyBytes(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer, at start: Int) -> Int {
        out[start] = UInt8(ascii: "\\"); out[start + 1] = UInt8(ascii: "\\"); out[start + 2] = UInt8(ascii: "x")
        var at = start + 3
        for byte in bytes {
            out[at] = hexDigits[Int(byte >> 4)]
            out[at + 1] = hexDigits[Int(byte & 15)]
            at += 2
        }
        return at
    }

    // MARK: Waiting and errors

    /// Runs `body` and waits for it, turning server errors into `SnapshotError`s. A connection
    /// the server closes (stopped, crashed, cut off) ends the wait: postgres-nio leaves a COPY
    /// in flight waiting forever then. One found closed before `body` is opened again, unless a
    /// transaction was open on it.
    private func run<T>(_ body: sending @escaping () async throws -> T) throws -> T {
        if connection.isClosed, depth == 0 {
            connection = try Self.open(configuration, logger: logger, location: location)
            try setUpSession()
        }
        do {
            return try Self.wait(body, closed: connection.closeFuture)
        } catch is ConnectionClosed {
            throw SnapshotError.database("\(location): the server closed the connection")
        } catch let error as PSQLError {
            let state = error.serverInfo?[.sqlState]
            // Serialization failure, deadlock, a row another transaction added first (the same
            // snapshot pushed by two hosts at once), or a row a gc deleted since the push checked
            // for it: the transaction lost a race and may be retried.
            if ["40001", "40P01", "23505", "23503"].contains(state) { throw SnapshotError.conflict(Self.reason(error)) }
            throw SnapshotError.database("\(location): \(Self.reason(error))")
        }
    }

    /// The server's message, or the kind of failure: never the connection string.
    static func reason(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return String(describing: type(of: error)) }
        if let message = error.serverInfo?[.message] {
            return message + (error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
        }
        if let underlying = error.underlying { return "\(error.code): \(underlying)" }
        return "\(error.code)"
    }

    /// Waits for async work from synchronous code (the command line's), or until `closed`
    /// completes (then `ConnectionClosed`), whichever comes first.
    static func wait<T>(_ body: sending @escaping () async throws -> T, closed: EventLoopFuture<Void>? = nil) throws -> T {
        let box = ResultBox<T>()
        Task {
            do { box.finish(.success(try await body())) } catch { box.finish(.failure(error)) }
        }
        closed?.whenComplete { _ in box.finish(.failure(ConnectionClosed())) }
        return try box.wait().get()
    }
}

/// The server closed the connection while a call waited for it.
private struct ConnectionClosed: Error {}

/// The first result of a wait; later ones are dropped.
private final class ResultBox<T>: @unchecked Sendable {
    private var result: Result<T, any Error>?
    private let lock = NSLock()
    private let done = DispatchSemaphore(value: 0)

    func finish(_ value: Result<T, any Error>) {
        lock.lock()
        defer { lock.unlock() }
        guard result == nil else { return }
        result = value
        done.signal()
    }

    func wait() -> Result<T, any Error> {
        done.wait()
        lock.lock()
        defer { lock.unlock() }
        return result!
    }
}

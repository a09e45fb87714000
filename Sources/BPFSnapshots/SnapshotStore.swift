import Foundation
import GRDB

/// The snapshot history: one SQLite file in WAL mode, shared safely by concurrent processes.
public final class SnapshotStore: Sendable {
    public let path: String
    let pool: any DatabaseWriter

    /// How a command uses the history.
    public enum Access: Sendable {
        /// Reads only: a missing history is an error ("no history at PATH") and nothing is
        /// created; an existing one is opened read-only (migrated first only if it is older).
        case read
        /// May write: the file and its directory are created (mode 0600/0700) if missing.
        case write
        /// As `.write`, for one change made from one thread (a recorded change): a current
        /// history is opened as one connection, its schema checked once, nothing migrated.
        case change
    }

    /// Opens the history at `path` and brings its schema up to date. A file that is not a
    /// snapshot history, or one written by a newer or different schema, is refused before
    /// anything is written to it.
    public init(path: String, access: Access = .write) throws {
        self.path = path
        let busyTimeout = try Self.busyTimeout(path: path)
        if access == .read {
            guard FileManager.default.fileExists(atPath: path) else { throw SnapshotError.noHistory(path: path) }
            if let reader = try Self.openCurrent(path, readonly: true, busyTimeout: busyTimeout) {
                pool = reader
                return
            }
        }
        // A missing or empty file is created and migrated below, one process at a time.
        if access == .change, (try? Self.fileSize(path)) ?? 0 > 0,
           let writer = try Self.openCurrent(path, readonly: false, busyTimeout: busyTimeout) {
            pool = writer
            return
        }
        try Self.createIfMissing(path)
        // Opening switches a new file to WAL mode and migrates it: one process at a time, else a
        // second process opening the same new file can meet "database is locked". The lock is an
        // flock on the directory: closing a descriptor of the database file itself would drop
        // the fcntl locks SQLite holds on it in this process.
        let directory = open(Self.directory(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { if directory >= 0 { close(directory) } }
        if directory >= 0 { flock(directory, LOCK_EX) }
        do {
            if try Self.fileSize(path) > 0 {
                // Validate read-only first: opening a pool switches the file to WAL mode.
                let reader = try DatabaseQueue(path: path, configuration: Self.configuration(readonly: true, busyTimeout: busyTimeout))
                try reader.read { try Schema.check($0, path: path) }
                try reader.close()
            }
            let writer = try DatabasePool(path: path, configuration: Self.configuration(readonly: false, busyTimeout: busyTimeout))
            try Schema.migrate(writer, path: path)
            pool = writer
        } catch let error as DatabaseError {
            throw Self.openError(error, path: path)
        }
    }

    /// One connection to an existing history whose schema is complete; nil when it still needs
    /// a migration (applied by the pool `.write` opens, in WAL mode). A queue leaves the
    /// journal mode as it is, so a file that turns out not to be a history is left untouched.
    private static func openCurrent(_ path: String, readonly: Bool, busyTimeout: Double) throws -> DatabaseQueue? {
        do {
            let reader = try DatabaseQueue(path: path, configuration: configuration(readonly: readonly, busyTimeout: busyTimeout))
            let current = try reader.read { db in
                try Schema.check(db, path: path)
                return try Schema.isComplete(db)
            }
            if current { return reader }
            try reader.close()
            return nil
        } catch let error as DatabaseError {
            throw openError(error, path: path)
        }
    }

    /// `BPFTIME_SNAP_DB`, else `~/.bpftime/snapshots.db`.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let path = environment["BPFTIME_SNAP_DB"], !path.isEmpty { return path }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".bpftime/snapshots.db").path
    }

    /// Bytes of the file in use by the history (free pages excluded), after checkpointing the
    /// WAL into it (waits for readers, like a save does).
    public func usedBytes() throws -> Int {
        try guarded {
            try pool.writeWithoutTransaction { db in
                try db.checkpoint(.truncate)
                let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
                let free = try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
                let size = try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 0
                return (pages - free) * size
            }
        }
    }

    /// Runs `PRAGMA integrity_check`; `["ok"]` for a sound file.
    public func integrityCheck() throws -> [String] {
        try guarded { try pool.read { try String.fetchAll($0, sql: "PRAGMA integrity_check") } }
    }

    /// Database errors past opening, as `SnapshotError`.
    func guarded<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DatabaseError where [.SQLITE_CORRUPT, .SQLITE_NOTADB].contains(error.resultCode) {
            // Damage past the pages opening reads shows up here; the failed transaction changed nothing.
            throw SnapshotError.notADatabase(path: path)
        } catch let error as DatabaseError {
            throw SnapshotError.database(error.message ?? "\(error.resultCode)")
        }
    }

    /// Seconds to wait for another process's write lock: `BPFTIME_SNAP_BUSY_TIMEOUT`, else 120
    /// (another process saving holds the lock for as long as its save takes).
    static func busyTimeout(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Double {
        guard let text = environment["BPFTIME_SNAP_BUSY_TIMEOUT"] else { return 120 }
        guard let seconds = Double(text), seconds >= 0, seconds <= 86_400 else {
            throw SnapshotError.cannotOpen(path: path, reason: "BPFTIME_SNAP_BUSY_TIMEOUT=\(text) is not a number of seconds from 0 to 86400")
        }
        return seconds
    }

    private static func configuration(readonly: Bool, busyTimeout: Double) -> Configuration {
        var config = Configuration()
        config.readonly = readonly
        config.busyMode = .timeout(busyTimeout)
        config.prepareDatabase { db in
            // WAL + NORMAL: commits stay atomic; only the last one may be lost on power failure.
            if !readonly { try db.execute(sql: "PRAGMA synchronous = NORMAL") }
            try db.execute(sql: "PRAGMA cache_size = -32768")
        }
        return config
    }

    private static func directory(of path: String) -> String {
        let directory = (path as NSString).deletingLastPathComponent
        return directory.isEmpty ? "." : directory
    }

    private static func createIfMissing(_ path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw SnapshotError.cannotOpen(path: path, reason: "cannot create directory \(directory)")
            }
        }
        // Only a missing file is opened here: closing a descriptor of a database file that a
        // connection of this process has open would drop the fcntl locks SQLite holds on it,
        // and another process could then write or checkpoint under that connection.
        if FileManager.default.fileExists(atPath: path) { return }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw SnapshotError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        close(fd)
    }

    private static func fileSize(_ path: String) throws -> Int {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw SnapshotError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        return Int(info.st_size)
    }

    private static func openError(_ error: DatabaseError, path: String) -> SnapshotError {
        switch error.resultCode {
        case .SQLITE_NOTADB, .SQLITE_CORRUPT: .notADatabase(path: path)
        case .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_IOERR:
            .cannotOpen(path: path, reason: error.message ?? "\(error.resultCode)")
        default: .database(error.message ?? "\(error.resultCode)")
        }
    }
}

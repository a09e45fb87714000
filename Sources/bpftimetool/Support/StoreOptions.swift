import ArgumentParser
import BPFFleet
import BPFSnapshots

/// `--db PATH` for every snap command.
struct StoreOptions: ParsableArguments {
    @Option(help: "Snapshot database (default: $BPFTIME_SNAP_DB or ~/.bpftime/snapshots.db).") var db: String?

    /// `--db`, else `$BPFTIME_SNAP_DB`, else the default file; a URL of an unknown scheme is an error.
    var location: HistoryLocation {
        get throws { try HistoryLocation(option: db) }
    }

    /// The SQLite file of the history; a PostgreSQL history is refused by the commands that use this.
    var path: String {
        get throws {
            guard case .sqlite(let path) = try location else {
                throw SnapshotError.notOnPostgres(command: Self.commandName)
            }
            return path
        }
    }

    /// The command as typed (`snap diff`), for errors.
    static var commandName: String {
        CommandLine.arguments.dropFirst().filter { !$0.hasPrefix("-") }.prefix(2).joined(separator: " ")
    }

    /// The database and its SQLite companions, which no output may overwrite (none for PostgreSQL).
    var databaseFiles: [FileIO.Protected] {
        get throws {
            guard case .sqlite(let path) = try location else { return [] }
            return ["", "-wal", "-shm"].compactMap { FileIO.Protected(path: path + $0, role: "the snapshot history in use (--db)") }
        }
    }

    /// Runs `body` on the history, SQLite or PostgreSQL: for `.write` a missing SQLite file is
    /// created, for `.read` it is an error and nothing is created.
    func withHistory<T>(access: SnapshotStore.Access = .write, _ body: (any SnapshotHistory) throws -> T) throws -> T {
        try HistoryConnection.withHistory(try location, access: access, body)
    }
    /// The history for a command that only reads: it must exist, and nothing is created.
    func openForReading() throws -> SnapshotStore { try SnapshotStore(path: path, access: .read) }
}

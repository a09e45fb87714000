import BPFSnapshots

/// Any history, SQLite or PostgreSQL, as one `SQLConnection` for push, pull and fleet queries,
/// or as a `SnapshotHistory` for the commands that save, tag and remove.
public enum HistoryConnection {
    /// Runs `body` on the history at `location`. A SQLite history that does not exist is created
    /// only for `.write` (a read of a missing one is "no history at PATH").
    public static func with<T>(_ location: HistoryLocation, access: SnapshotStore.Access,
                               _ body: (any SQLConnection) throws -> T) throws -> T {
        switch location {
        case .sqlite(let path):
            return try SnapshotStore(path: path, access: access).withConnection(body)
        case .postgres(let address):
            let history = try PostgresHistory.connect(address)
            defer { history.close() }
            return try body(history)
        }
    }

    /// Runs `body` on the history at `location` as the commands' store; a SQLite history is
    /// created if missing only for `.write`.
    public static func withHistory<T>(_ location: HistoryLocation, access: SnapshotStore.Access = .write,
                                      _ body: (any SnapshotHistory) throws -> T) throws -> T {
        switch location {
        case .sqlite(let path):
            return try body(SnapshotStore(path: path, access: access))
        case .postgres(let address):
            let history = try PostgresHistory.connect(address)
            defer { history.close() }
            return try body(history)
        }
    }
}

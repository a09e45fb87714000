import BPFSnapshots

/// Any history, SQLite or PostgreSQL, as one `SQLConnection` for push, pull and fleet queries.
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
}

import BPFSnapshots
import Foundation

/// The history the server's concurrent requests share. A SQLite store reads concurrently
/// itself (a pool of connections); any other history is one connection that a call waits on
/// (PostgreSQL's), so requests take turns on it.
public final class SharedHistory: @unchecked Sendable {
    private let history: any SnapshotHistory
    private let turns: NSLock?

    public init(_ history: any SnapshotHistory) {
        self.history = history
        turns = history is SnapshotStore ? nil : NSLock()
    }

    /// Runs `body` with the history, alone on it when it is one connection.
    func use<T>(_ body: (any SnapshotHistory) throws -> T) throws -> T {
        turns?.lock()
        defer { turns?.unlock() }
        return try body(history)
    }
}

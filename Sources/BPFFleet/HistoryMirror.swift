import BPFSnapshots
import Foundation

/// Chosen snapshots of a PostgreSQL history, copied under their own ids into a temporary SQLite
/// history, so that `snap show`, `diff` and `export` read them through the SQLite history's code
/// (one reader of map contents, layers included) and print what they print on SQLite.
public enum HistoryMirror {
    /// The temporary history holding the snapshots `references` name at `address`, and those
    /// references as ids there (`live` stays `live`). It is removed when the process exits.
    public static func of(_ address: PostgresAddress, references: [String]) throws -> (store: SnapshotStore, references: [String]) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bpftime-mirror-\(getpid())-\(UInt32.random(in: 0 ... .max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        removeAtExit(directory.path)
        let store = try SnapshotStore(path: directory.appendingPathComponent("mirror.db").path, access: .write)
        let history = try PostgresHistory.connect(address)
        defer { history.close() }
        var resolved: [String] = []
        for reference in references {
            resolved.append(reference == "live" ? reference : String(try history.resolve(reference)))
        }
        let ids = resolved.compactMap { Int64($0) }
        try store.withConnection { mirror in
            _ = try HistoryTransfer.copy(Array(Set(ids)).sorted(), from: history, to: mirror, keepingIDs: true)
        }
        return (store, resolved)
    }

    nonisolated(unsafe) private static var directories: [String] = []

    private static func removeAtExit(_ path: String) {
        if directories.isEmpty {
            atexit { HistoryMirror.directories.forEach { try? FileManager.default.removeItem(atPath: $0) } }
        }
        directories.append(path)
    }
}

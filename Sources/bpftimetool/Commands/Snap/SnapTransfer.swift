import ArgumentParser
import BPFFleet
import BPFLogging
import BPFReports
import BPFSnapshots
import Foundation

/// `snap push REMOTE [REFS...]`: the local history's snapshots into another history.
struct SnapPush: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Copy snapshots (all, or the REFS given) into another history: a remote's name, a postgres:// URL or a path.",
        discussion: SnapTransfer.discussion)
    @OptionGroup var transfer: SnapTransfer

    func run() throws { try transfer.run(intoRemote: true) }
}

/// `snap pull REMOTE [REFS...]`: another history's snapshots into the local one.
struct SnapPull: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Copy snapshots (all, or the REFS given, e.g. hostA:latest) from another history into this one.",
        discussion: SnapTransfer.discussion)
    @OptionGroup var transfer: SnapTransfer

    func run() throws { try transfer.run(intoRemote: false) }
}

/// What push and pull take, and the copy with one line per snapshot, then the totals.
struct SnapTransfer: ParsableArguments {
    static let discussion = "Only content the receiving history lacks is sent; each snapshot arrives whole or not at all; one it has is skipped."
    @Argument(help: "A remote (`snap remote add`), a postgres:// URL or a SQLite path.") var remote: String
    @Argument(help: "Snapshots to copy (default: all), e.g. 12, base, latest~1, hostA:latest.") var references: [String] = []
    @OptionGroup var store: StoreOptions

    func run(intoRemote: Bool) throws {
        let other = try store.remoteLocation(remote), local = try store.location
        let verb = intoRemote ? "pushed" : "pulled"
        try HistoryConnection.with(intoRemote ? local : other, access: .read) { source in
            try HistoryConnection.with(intoRemote ? other : local, access: .write) { destination in
                try copy(from: source, to: destination, verb: verb)
            }
        }
    }

    private func copy(from source: any SQLConnection, to destination: any SQLConnection, verb: String) throws {
        let ids = try HistoryTransfer.selection(references, at: source)
        var bytes = 0
        let steps = try HistoryTransfer.copy(ids, from: source, to: destination) { step in
            bytes += step.payloadBytes
            if step.stored {
                print("\(verb) snapshot \(step.source) as \(step.destination) (\(step.payloadBytes) bytes of content)")
            } else {
                print("snapshot \(step.source) is already there as \(step.destination)")
            }
        }
        let stored = steps.filter(\.stored).count
        BPFLog.logger("snap").info("\(verb) \(stored) snapshot(s) to \(destination.location), \(steps.count - stored) already there, \(bytes) bytes of content")
    }
}

/// `snap remote add|rm|list`: named histories to push to and pull from.
struct SnapRemote: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remote", abstract: "Name other histories: `remote add NAME URL`, `remote rm NAME`, `remote list`.",
        subcommands: [Add.self, Remove.self, List.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Name a history (a postgres:// URL or a path).")
        @Argument var name: String
        @Argument var url: String
        @OptionGroup var store: StoreOptions
        func run() throws { try store.remotes(access: .write).addRemote(name, url: url) }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Forget a remote.")
        @Argument var name: String
        @OptionGroup var store: StoreOptions
        func run() throws { try store.remotes(access: .write).removeRemote(name) }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "The remotes, passwords masked.")
        @OptionGroup var store: StoreOptions
        func run() throws {
            var table = Table(header: ["NAME", "URL"])
            for remote in try store.remotes(access: .read).remotes() {
                table.add([remote.name, (try? HistoryLocation(remote.url).description) ?? "(invalid)"])
            }
            print(table.rendered())
        }
    }
}

extension StoreOptions {
    /// The SQLite history that keeps this host's remotes; a PostgreSQL history is refused.
    func remotes(access: SnapshotStore.Access) throws -> SnapshotStore {
        guard case .sqlite(let path) = try location else { throw SnapshotError.remotesOnPostgres }
        return try SnapshotStore(path: path, access: access)
    }

    /// A remote's name (looked up in this history), else a URL or path.
    func remoteLocation(_ remote: String) throws -> HistoryLocation {
        if case .sqlite(let path) = try location, FileManager.default.fileExists(atPath: path),
           let url = try SnapshotStore(path: path, access: .read).remote(remote) {
            return try HistoryLocation(url)
        }
        return try HistoryLocation(remote)
    }
}

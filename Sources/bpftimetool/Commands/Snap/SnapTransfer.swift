import ArgumentParser
import BPFFleet
import BPFLogging
import BPFSnapshots
import Foundation

/// `snap push REMOTE [REFS...]`: the local history's snapshots into another history.
struct SnapPush: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Copy snapshots (all, or the REFS given) into another history: a remote's name, a postgres:// URL or a path.",
        discussion: "Only content the other history lacks is sent; each snapshot arrives whole or not at all; one it has is skipped.")
    @Argument(help: "A remote (`snap remote add`), a postgres:// URL or a SQLite path.") var remote: String
    @Argument(help: "Snapshots to push (default: all).") var references: [String] = []
    @OptionGroup var store: StoreOptions

    func run() throws {
        let destination = try store.remoteLocation(remote)
        try HistoryConnection.with(try store.location, access: .read) { local in
            try HistoryConnection.with(destination, access: .write) { other in
                try SnapTransferReport.run(from: local, to: other, references: references, verb: "pushed")
            }
        }
    }
}

/// `snap pull REMOTE [REFS...]`: another history's snapshots into the local one.
struct SnapPull: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Copy snapshots (all, or the REFS given, e.g. hostA:latest) from another history into this one.",
        discussion: "Only content this history lacks is sent; each snapshot arrives whole or not at all; one it has is skipped.")
    @Argument(help: "A remote (`snap remote add`), a postgres:// URL or a SQLite path.") var remote: String
    @Argument(help: "Snapshots to pull (default: all).") var references: [String] = []
    @OptionGroup var store: StoreOptions

    func run() throws {
        let source = try store.remoteLocation(remote)
        try HistoryConnection.with(source, access: .read) { other in
            try HistoryConnection.with(try store.location, access: .write) { local in
                try SnapTransferReport.run(from: other, to: local, references: references, verb: "pulled")
            }
        }
    }
}

/// One line per snapshot, then the totals.
enum SnapTransferReport {
    static func run(from source: any SQLConnection, to destination: any SQLConnection, references: [String], verb: String) throws {
        let log = BPFLog.logger("snap")
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
        log.info("\(verb) \(stored) snapshot(s) to \(destination.location), \(steps.count - stored) already there, \(bytes) bytes of content")
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
        func run() throws { try store.open().addRemote(name, url: url) }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Forget a remote.")
        @Argument var name: String
        @OptionGroup var store: StoreOptions
        func run() throws { try store.open().removeRemote(name) }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "The remotes, passwords masked.")
        @OptionGroup var store: StoreOptions
        func run() throws {
            var table = Table(header: ["NAME", "URL"])
            for remote in try store.openForReading().remotes() {
                table.add([remote.name, (try? HistoryLocation(remote.url).description) ?? "(invalid)"])
            }
            print(table.rendered())
        }
    }
}

extension StoreOptions {
    /// A remote's name (looked up in this history), else a URL or path.
    func remoteLocation(_ remote: String) throws -> HistoryLocation {
        if case .sqlite(let path) = try location, FileManager.default.fileExists(atPath: path),
           let url = try SnapshotStore(path: path, access: .read).remote(remote) {
            return try HistoryLocation(url)
        }
        return try HistoryLocation(remote)
    }
}

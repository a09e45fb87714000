import BPFJSON
import ArgumentParser
import BPFFleet
import BPFLogging
import BPFModel
import BPFReports
import BPFSegment
import BPFSnapshots
import BPFState
import Foundation

struct SnapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snap",
        abstract: "Record the segment's states in a history (SQLite, or PostgreSQL for a fleet), diff them and roll back.",
        discussion: "The history is --db, else $BPFTIME_SNAP_DB, else ~/.bpftime/snapshots.db; a postgres:// URL is a PostgreSQL history.",
        subcommands: [SnapSave.self, SnapList.self, SnapShow.self, SnapLog.self, SnapRemove.self, SnapTag.self, SnapGC.self,
                      SnapDiff.self, SnapRestore.self, SnapExport.self, SnapImport.self, SnapWatch.self, SnapPrune.self, SnapDU.self,
                      SnapServe.self, SnapPush.self, SnapPull.self, SnapRemote.self])
}

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

struct SnapSave: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "save", abstract: "Record the segment as a new snapshot; prints its id.")
    @Option(name: .shortAndLong, help: "A message describing the snapshot.") var message: String?
    @Option(name: .customLong("tag"), help: "A tag naming the snapshot (repeatable).") var tags: [String] = []
    @Flag(name: .customLong("if-changed"), help: "Save nothing if the segment equals its latest snapshot, by content.") var ifChanged = false
    @OptionGroup var segment: SegmentOptions
    @OptionGroup var store: StoreOptions

    func run() throws {
        try store.withHistory { db in
            guard ifChanged else {
                print(try ProgressLine.around("snap save") { try segment.state().save(to: db, message: message, tags: tags).id })
                return
            }
            let (id, saved) = try ProgressLine.around("snap save") { try segment.state().saveIfChanged(to: db, message: message, tags: tags) }
            if saved { print(id) } else { BPFLog.logger("snap").info("unchanged since snapshot \(id): nothing saved") }
        }
    }
}

struct SnapList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the snapshots (times in UTC unless --local).")
    @Option(help: "Only this segment's snapshots.") var segment: String?
    @Option(help: "Only this host's snapshots (a history several hosts push into).") var host: String?
    @Option(name: .customShort("n"), help: "Only the newest N.") var limit: Int?
    @Flag(help: "Print times in the local zone.") var local = false
    @OptionGroup var output: JSONOptions
    @Flag(name: .shortAndLong, help: "Also who made each snapshot: user, uid, pid, host, tool version, command.") var long = false
    @OptionGroup var store: StoreOptions

    func run() throws {
        let snapshots: [SnapshotInfo]
        if case .sqlite = try store.location, host == nil {
            snapshots = try store.openForReading().log(segment: segment, limit: limit).reversed()
        } else {
            snapshots = try HistoryConnection.with(try store.location, access: .read) {
                try $0.snapshotInfos(host: host, segment: segment, limit: limit)
            }
        }
        if output.enabled {
            output.print(JSONText.array(snapshots.map(SnapshotFormat.json)))
            return
        }
        let who = long ? ["USER", "UID", "PID", "HOST", "VERSION", "COMMAND"] : []
        var table = Table(header: ["ID", "TIME", "SEGMENT", "GEN", "HANDLERS", "TAGS"] + who + ["MESSAGE"])
        for s in snapshots {
            let p = s.provenance
            let provenance = [p?.user ?? "-", p.map { String($0.uid) } ?? "-", p.map { String($0.pid) } ?? "-", s.host,
                              p?.toolVersion ?? "-", p?.command ?? "-"]
            table.add([String(s.id), TimeText.format(s.createdAt, local: local), s.segmentName, String(s.generation),
                       String(s.handlerCount), s.tags.joined(separator: ",")] + (long ? provenance : []) + [SnapshotFormat.message(s)])
        }
        print(table.rendered())
    }
}

struct SnapShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a snapshot's handlers.")
    @Argument(help: "Snapshot id or tag.") var snapshot: String
    @OptionGroup var output: JSONOptions
    @OptionGroup var store: StoreOptions

    func run() throws {
        let (info, listing) = try store.withHistory(access: .read) { db in
            let id = try db.resolve(snapshot)
            return (try db.info(id), HandlerListing(summaries: try db.handlerSummaries(of: id)))
        }
        if output.enabled {
            output.print(SnapshotFormat.json(info, handlers: listing))
            return
        }
        print(TerminalText.escaped(SnapshotFormat.headline(info, local: false)))
        if let m = info.message { print(TerminalText.escaped("message: \(m)")) }
        if let r = info.undoOf { print(TerminalText.escaped("undo of: \(SnapshotFormat.restore(r))")) }
        if let p = info.provenance {
            print(TerminalText.escaped("by: \(p.user) (uid \(p.uid)) pid \(p.pid) on \(info.host), bpftimetool \(p.toolVersion)"))
            print(TerminalText.escaped("command: \(p.command)"))
            if let restored = p.restoredSnapshot { print("restored: snapshot \(restored)") }
            if let undo = p.undoSnapshot { print("undo: snapshot \(undo)") }
        }
        print(listing.table.rendered())
    }
}

struct SnapRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete a snapshot (its content goes at the next gc).")
    @Argument(help: "Snapshot id or tag.") var snapshot: String
    @OptionGroup var store: StoreOptions

    func run() throws {
        try store.withHistory { db in try db.remove(db.resolve(snapshot)) }
    }
}

struct SnapTag: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tag", abstract: "Name a snapshot (`tag ID TAG`), move a tag (`-f`), or delete one (`tag -d TAG`).")
    @Argument(help: "Snapshot id or tag, then the new tag; with -d only the tag.") var arguments: [String]
    @Flag(name: .shortAndLong, help: "Move the tag if it names another snapshot.") var force = false
    @Flag(name: .customShort("d"), help: "Delete the tag.") var delete = false
    @OptionGroup var store: StoreOptions

    func validate() throws {
        if delete, arguments.count != 1 { throw ValidationError("-d takes exactly one tag") }
        if !delete, arguments.count != 2 { throw ValidationError("expected a snapshot id or tag, then the new tag") }
    }

    func run() throws {
        try store.withHistory { db in
            if delete { return try db.untag(arguments[0]) }
            try db.tag(db.resolve(arguments[0]), arguments[1], move: force)
        }
    }
}

struct SnapGC: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gc", abstract: "Drop stored content that no snapshot uses and give the space back to the file system.")
    @OptionGroup var store: StoreOptions

    func run() throws {
        // Printed once the progress line is gone from the terminal.
        let report = try ProgressLine.around("snap gc") {
            try store.withHistory { db in
                let before = try db.space()
                let dropped = try db.collectGarbage()
                try db.vacuum()
                let after = try db.space()
                return "dropped \(dropped.blobs) blobs and \(dropped.chunks) map chunks; \(after.kind) \(SnapDU.bytes(before.bytes)) → \(SnapDU.bytes(after.bytes)) (\(before.bytes) → \(after.bytes) bytes)"
            }
        }
        print(report)
    }
}

import ArgumentParser
import BPFLogging
import BPFModel
import BPFSegment
import BPFSnapshots
import Foundation

struct SnapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snap",
        abstract: "Record the segment's states in a SQLite history, diff them and roll back.",
        discussion: "The history is --db, else $BPFTIME_SNAP_DB, else ~/.bpftime/snapshots.db.",
        subcommands: [SnapSave.self, SnapList.self, SnapShow.self, SnapLog.self, SnapRemove.self, SnapTag.self, SnapGC.self,
                      SnapDiff.self, SnapRestore.self, SnapExport.self, SnapImport.self, SnapWatch.self, SnapPrune.self, SnapDU.self])
}

/// `--db PATH` for every snap command.
struct StoreOptions: ParsableArguments {
    @Option(help: "Snapshot database (default: $BPFTIME_SNAP_DB or ~/.bpftime/snapshots.db).") var db: String?

    func open() throws -> SnapshotStore {
        try SnapshotStore(path: db ?? SnapshotStore.defaultPath(environment: ProcessInfo.processInfo.environment))
    }
}

/// A point-in-time read of the segment: the records are read under the lock, and the read is
/// repeated if the generation moved while it was taken so that the two belong together.
func consistentState(of shm: Segment) throws -> (records: [HandlerRecord], generation: UInt64) {
    var generation = shm.generation
    for _ in 0 ..< 8 {
        let records = try shm.records(includeContents: true)
        let after = shm.generation
        if after == generation { return (records, generation) }
        generation = after
    }
    return (try shm.records(includeContents: true), shm.generation)
}

func recordSnapshot(_ shm: Segment, store: SnapshotStore, message: String?, tags: [String]) throws -> Int64 {
    let (records, generation) = try consistentState(of: shm)
    let host = ProcessInfo.processInfo.hostName
    return try store.save(records, meta: SnapshotMeta(segmentName: shm.name, host: host, generation: generation,
                                                      message: message, tags: tags))
}

struct SnapSave: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "save", abstract: "Record the segment as a new snapshot; prints its id.")
    @Option(name: .shortAndLong, help: "A message describing the snapshot.") var message: String?
    @Option(name: .customLong("tag"), help: "A tag naming the snapshot (repeatable).") var tags: [String] = []
    @Flag(name: .customLong("if-changed"), help: "Save nothing if the segment equals its latest snapshot, by content.") var ifChanged = false
    @OptionGroup var segment: SegmentOptions
    @OptionGroup var store: StoreOptions

    func run() throws {
        guard ifChanged else {
            print(try recordSnapshot(segment.open(), store: store.open(), message: message, tags: tags))
            return
        }
        let (id, saved) = try recordSnapshotIfChanged(segment.open(), store: store.open(), message: message, tags: tags)
        if saved { print(id) } else { BPFLog.logger("snap").info("unchanged since snapshot \(id): nothing saved") }
    }
}

struct SnapList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the snapshots (times in UTC unless --local).")
    @Option(help: "Only this segment's snapshots.") var segment: String?
    @Option(name: .customShort("n"), help: "Only the newest N.") var limit: Int?
    @Flag(help: "Print times in the local zone.") var local = false
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var store: StoreOptions

    func run() throws {
        let snapshots = try store.open().log(segment: segment, limit: limit).reversed()
        if json {
            print(JSONText.array(snapshots.map(SnapshotFormat.json)).rendered())
            return
        }
        var table = Table(header: ["ID", "TIME", "SEGMENT", "GEN", "HANDLERS", "TAGS", "MESSAGE"])
        for s in snapshots {
            table.add([String(s.id), TimeText.format(s.createdAt, local: local), s.segmentName, String(s.generation),
                       String(s.handlerCount), s.tags.joined(separator: ","), s.message ?? ""])
        }
        print(table.rendered())
    }
}

struct SnapShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a snapshot's handlers.")
    @Argument(help: "Snapshot id or tag.") var snapshot: String
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var store: StoreOptions

    func run() throws {
        let db = try store.open()
        let id = try db.resolve(snapshot)
        let info = try db.info(id)
        let listing = HandlerListing(records: try db.records(of: id)) { $0.handler.mapEntryCount }
        if json {
            print(JSONText.object([("snapshot", SnapshotFormat.json(info)), ("handlers", listing.json)]).rendered())
            return
        }
        print(SnapshotFormat.headline(info, local: false))
        if let m = info.message { print("message: \(m)") }
        print(listing.table.rendered())
    }
}

struct SnapRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete a snapshot (its content goes at the next gc).")
    @Argument(help: "Snapshot id or tag.") var snapshot: String
    @OptionGroup var store: StoreOptions

    func run() throws {
        let db = try store.open()
        try db.remove(db.resolve(snapshot))
    }
}

struct SnapTag: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tag", abstract: "Name a snapshot.")
    @Argument(help: "Snapshot id or tag.") var snapshot: String
    @Argument(help: "The new tag.") var tag: String
    @OptionGroup var store: StoreOptions

    func run() throws {
        let db = try store.open()
        try db.tag(db.resolve(snapshot), tag)
    }
}

struct SnapGC: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gc", abstract: "Drop stored content that no snapshot uses and give the space back to the file system.")
    @OptionGroup var store: StoreOptions

    func run() throws {
        let db = try store.open()
        let before = try db.fileBytes().total
        let dropped = try db.collectGarbage()
        try db.vacuum()
        let after = try db.fileBytes().total
        print("dropped \(dropped.blobs) blobs and \(dropped.chunks) map chunks; file \(SnapDU.bytes(before)) → \(SnapDU.bytes(after)) (\(before) → \(after) bytes)")
    }
}

enum SnapshotFormat {
    static func isoTime(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    /// `snapshot 12  2026-11-30 16:40:01 UTC  segment demo  generation 42  tags: base`
    static func headline(_ s: SnapshotInfo, local: Bool) -> String {
        "snapshot \(s.id)  \(TimeText.format(s.createdAt, local: local))  segment \(s.segmentName)  generation \(s.generation)"
            + (s.tags.isEmpty ? "" : "  tags: \(s.tags.joined(separator: ", "))")
    }

    static func json(_ s: SnapshotInfo) -> JSONText {
        .object([("id", .int(s.id)), ("time", .string(isoTime(s.createdAt))),
                 ("segment", .string(s.segmentName)), ("host", .string(s.host)), ("generation", .uint(s.generation)),
                 ("message", s.message.map(JSONText.string) ?? .null), ("tags", .array(s.tags.map(JSONText.string))),
                 ("parent", s.parent.map { .int($0) } ?? .null), ("handlers", .int(s.handlerCount))])
    }
}

extension Handler {
    var mapEntryCount: Int? {
        if case .map(let m) = self { return m.contents?.count }
        return nil
    }
}

import ArgumentParser
import BPFModel
import BPFReports
import BPFSnapshots
import Foundation

struct SnapLog: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "The snapshots, newest first, with what each changed against the one before it.",
        discussion: """
        With --fd N only the snapshots where handler N changed; with --fd N --key HEX the changes of \
        one key of that map (value before → after, added, deleted).
        """)

    @Option(name: .customShort("n"), help: "At most this many snapshots (or key changes).") var limit: Int?
    @Option(help: "Only snapshots taken since then: a duration ago (2h, 7d) or a UTC time (2026-11-30 12:00).") var since: TimeArgument?
    @Option(help: "Only this segment's snapshots.") var segment: String?
    @Option(help: "Only snapshots where the handler at this fd changed.") var fd: Int?
    @Option(help: "With --fd: the changes of this key of the map (hex, bytes as stored).") var key: String?
    @Flag(help: "Print times in the local zone (default UTC).") var local = false
    @OptionGroup var output: JSONOptions
    @OptionGroup var store: StoreOptions

    func validate() throws {
        if key != nil, fd == nil { throw ValidationError("--key needs --fd") }
        if let limit, limit < 0 { throw ValidationError("-n takes a count of zero or more") }
    }

    func run() throws {
        let shown: [(snapshot: SnapshotInfo, change: SnapshotDiff)] = try store.withHistory { db in
            guard let fd else {
                return try db.log(segment: segment, since: since?.date, limit: limit).map { ($0, try db.changes(of: $0.id, mapDetail: .counts, fds: nil)) }
            }
            if let key {
                guard let bytes = Hex.decode(key.hasPrefix("0x") ? String(key.dropFirst(2)) : key), !bytes.isEmpty else {
                    throw ToolError("key \(key): not hex (two digits per byte)")
                }
                try printKeyHistory(db.keyHistory(fd: fd, key: bytes, segment: segment), db: db)
                return []
            }
            return try db.handlerHistory(fd: fd, segment: segment, since: since?.date, limit: limit)
        }
        if key != nil { return }
        if output.enabled {
            output.print(LogFormat.snapshots(shown))
            return
        }
        let renderer = DiffRenderer(colored: DiffRenderer.terminalWantsColor())
        for (info, change) in shown {
            print(SnapshotFormat.headline(info, local: local))
            if let message = info.message { print("    \(message)") }
            let text = change.isEmpty ? "no changes\n" : renderer.text(change)
            print(text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { "    " + $0 }.joined(separator: "\n"))
        }
    }

    private func printKeyHistory(_ changes: [KeyChange], db: any SnapshotHistory) throws {
        var shown: [(change: KeyChange, snapshot: SnapshotInfo)] = []
        for change in changes where shown.count < limit ?? .max {
            let info = try db.info(change.snapshot)
            if since.map({ info.createdAt >= $0.date }) ?? true { shown.append((change, info)) }
        }
        if output.enabled {
            output.print(LogFormat.keyChanges(shown))
            return
        }
        for (change, info) in shown {
            let what: String
            switch change.kind {
            case .added: what = "added    \(MapEntryFormat.single(change.new ?? []))"
            case .deleted: what = "deleted  (was \(MapEntryFormat.single(change.old ?? [])))"
            case .changed: what = "changed  \(MapEntryFormat.single(change.old ?? [])) → \(MapEntryFormat.single(change.new ?? []))"
            }
            print("snapshot \(change.snapshot)  \(TimeText.format(info.createdAt, local: local))  \(what)")
        }
    }
}

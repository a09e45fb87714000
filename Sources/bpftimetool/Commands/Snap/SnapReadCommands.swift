import ArgumentParser
import BPFFleet
import BPFJSON
import BPFLogging
import BPFModel
import BPFReports
import BPFSnapshots

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

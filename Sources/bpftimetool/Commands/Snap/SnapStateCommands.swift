import ArgumentParser
import BPFInterchange
import BPFLogging
import BPFModel
import BPFSegment
import BPFSnapshots
import BPFState
import Foundation

struct SnapRestore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Roll the segment back to a snapshot, wholly or only some fds, atomically.",
        discussion: """
        Under one hold of the segment lock: the current state is saved as a snapshot (the undo), \
        then the plan is applied, maps of unchanged definition in place. A failed restore changes \
        nothing and records nothing. A missing segment is an error unless --create is given. The restored \
        state is recorded too (naming the restored and the undo snapshot) unless --no-record.
        """)

    @Argument(help: "Snapshot id or tag.") var snapshot: String
    @Option(name: .customLong("fd"), help: "Restore only this fd (repeatable).") var fds: [Int] = []
    @Flag(name: .customLong("with-deps"), help: "Also restore the fds the chosen handlers refer to.") var withDependencies = false
    @Flag(name: .customLong("dry-run"), help: "Print the plan and change nothing.") var dryRun = false
    @Flag(help: "Create the segment (of the configured size) if it does not exist.") var create = false
    @OptionGroup var dangling: DanglingOptions
    @OptionGroup var segment: SegmentOptions
    @OptionGroup var store: StoreOptions
    @OptionGroup var record: RecordOptions

    func run() throws {
        let result = try store.withHistory(access: dryRun ? .read : .write) { db in
            let request = RestoreRequest(snapshot: try db.resolve(snapshot), onlyFDs: fds.isEmpty ? nil : Set(fds),
                                         withDependencies: withDependencies, dryRun: dryRun, createSegment: create && !dryRun,
                                         allowingDanglingAttachments: dangling.allowDangling)
            return try ProgressLine.around("snap restore") {
                try restore(request, state: segment.state(), store: db, recording: try record.recording(into: store))
            }
        }
        for line in result.lines { print(line) }
        try RecordOptions.report(result.record)
    }
}

/// Restores as `request` says (or only plans, for a dry run), recording the restored state;
/// answers the plan and the undo snapshot as lines for people, and what became of the recording.
func restore(_ request: RestoreRequest, state: RuntimeState, store db: any SnapshotHistory,
             recording: Recording?) throws -> (lines: [String], record: RecordResult?) {
    let host = try db.info(request.snapshot).host
    let outcome = try state.restore(request, store: db, recording: recording)
    let plan = outcome.plan
    let log = BPFLog.logger("restore")
    for (program, targets) in plan.danglingAttachments.sorted(by: { $0.key < $1.key }) {
        log.warning("program fd \(program) stays attached to fd \(targets.map(String.init).joined(separator: ", ")), which holds nothing")
    }
    DanglingOptions.warn(dropped: outcome.droppedProgramSlots, log: log)
    // A snapshot another host recorded (a fleet history) restores the same way; say so.
    var lines = host == ConsistentState.hostName ? [] : ["snapshot \(request.snapshot) was recorded on host \(TerminalText.escaped(host)), restored on \(TerminalText.escaped(ConsistentState.hostName))"]
    lines += plan.create.map { "create  fd \($0.fd) \($0.handler.kind.rawValue) \(TerminalText.escaped($0.handler.name ?? ""))" }
    lines += plan.replace.map { "replace fd \($0.fd) \($0.handler.kind.rawValue) \(TerminalText.escaped($0.handler.name ?? ""))" }
    lines += plan.remove.map { "remove  fd \($0)" }
    if plan.isEmpty { lines.append("nothing to restore: the segment already matches snapshot \(request.snapshot)") }
    if let undo = outcome.undoSnapshot { lines.append("previous state saved as snapshot \(undo)") }
    return (lines, outcome.record)
}

struct SnapExport: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Write a snapshot as bpftime JSON (with map data).")
    @Argument(help: "Snapshot id or tag.") var snapshot: String
    @Argument(help: "Output file, or - for stdout.") var file: String
    @Flag(name: .customLong("no-data"), help: "Leave map contents out.") var noData = false
    @OptionGroup var store: StoreOptions

    func run() throws {
        try ProgressLine.around("snap export") {
            let records = try store.withHistory(access: .read) { try $0.records(of: $0.resolve(snapshot)) }
            WorkProgress.current?.begin("writing \(file)", total: 0)
            try FileIO.writeAtomically(file, protecting: store.databaseFiles) { sink in
                try BPFTimeJSON.write(records, includeData: !noData, to: sink)
            }
        }
    }
}

struct SnapImport: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import", abstract: "Record a JSON file as a snapshot, without touching the segment.")
    @Argument(help: "Input file, or - for stdin.") var file: String
    @Option(name: .shortAndLong, help: "A message describing the snapshot.") var message: String?
    @Option(name: .customLong("tag"), help: "A tag naming the snapshot (repeatable).") var tags: [String] = []
    @OptionGroup var store: StoreOptions

    func run() throws {
        let limit = try BPFTimeJSON.maxDocumentBytes(segmentBytes: SegmentConfiguration.fromEnvironment().sizeBytes)
        let records = try BPFTimeJSON.decodeDocument(FileIO.read(file, limit: limit, what: "a snapshot document"))
        // Checked as `import` into a new segment checks it, so that a recorded snapshot can be restored.
        try RuntimeState(configuration: .fromEnvironment()).validateDocument(records)
        let meta = SnapshotMeta(segmentName: "file:\(file)", host: ConsistentState.hostName, generation: 0,
                                message: message ?? "imported from \(file)", tags: tags)
        print(try store.withHistory { try $0.save(records, meta: meta) })
    }
}

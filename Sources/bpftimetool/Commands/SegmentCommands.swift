import ArgumentParser
import BPFInterchange
import BPFLogging
import BPFModel
import BPFReports
import BPFSegment
import BPFState

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the segment's handlers to a JSON file in bpftime's format, with map contents.",
        discussion: "The state written is recorded in the history (message `export to FILE`) unless --no-record.")

    @Argument(help: "Output file, or - for stdout.") var file: String
    @Flag(name: .customLong("no-data"), help: "Leave map contents out (bpftime's own output).") var noData = false
    @OptionGroup var segment: SegmentOptions
    @OptionGroup var record: RecordOptions
    @OptionGroup var store: StoreOptions

    func run() throws {
        let log = BPFLog.logger("export")
        let recording = try record.recording(into: store)
        // One read for the file and the snapshot; the snapshot keeps map contents even with --no-data.
        let state = try segment.state().read(includeContents: !noData || recording != nil)
        for record in state.records { log.info("\(HandlerDescription.exportLog(record))") }
        let identity = try segment.open().fileIdentity
        let live = FileIO.Protected(device: identity.device, inode: identity.inode, role: "the segment \(state.segmentName) being exported")
        try FileIO.writeAtomically(file, protecting: [live] + (try store.databaseFiles)) { sink in
            try BPFTimeJSON.write(state.records, includeData: !noData, to: sink)
        }
        guard let recording else { return }
        try RecordOptions.report(segment.state().record(state, recording: recording, message: "export to \(file)"),
                                 kept: "\(file) is written")
    }
}

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Add the handlers of a bpftime JSON file to the segment (creating it if needed), all or nothing.")

    @Argument(help: "Input file, or - for stdin.") var file: String
    @OptionGroup var dangling: DanglingOptions
    @OptionGroup var segment: SegmentOptions
    @OptionGroup var record: RecordOptions
    @OptionGroup var store: StoreOptions

    func run() throws {
        let log = BPFLog.logger("import")
        let bytes = try segment.readDocument(file)
        guard !bytes.starts(with: [0x7f, 0x45, 0x4c, 0x46]) else {
            throw ToolError("\(file) is an ELF file, not bpftime JSON: load eBPF objects with `bpftimetool prog load \(file)`")
        }
        let records = try BPFTimeJSON.decodeDocument(bytes)
        let done = try DanglingOptions.applying("import", allowDangling: dangling.allowDangling) {
            try segment.state().importRecords(records, allowingDanglingAttachments: dangling.allowDangling,
                                              recording: try record.recording(into: store), message: "import \(file)")
        }
        for record in records { log.info("import handler type \(record.handler.kind.rawValue) fd \(record.fd)") }
        DanglingOptions.warn(done.value, log: log)
        log.info("imported \(records.count) handlers from \(file)")
        try RecordOptions.report(done.record)
    }
}

struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Add one handler, given as a JSON object, at an fd.")

    @Argument(help: "The fd to load the handler at.") var fd: Int
    @Argument(help: "The handler as JSON, e.g. '{\"type\":\"epoll_handler\"}'.") var json: String
    @OptionGroup var dangling: DanglingOptions
    @OptionGroup var segment: SegmentOptions
    @OptionGroup var record: RecordOptions
    @OptionGroup var store: StoreOptions

    func run() throws {
        let handler = try BPFTimeJSON.decodeHandler(fd: fd, Array(json.utf8))
        try Self.load(HandlerRecord(fd: fd, handler: handler), into: segment, recording: record, store: store, message: "load fd \(fd)",
                      logged: "loaded \(handler.kind.rawValue) at fd \(fd)", allowDangling: dangling.allowDangling)
    }

    /// Adds one handler as a recorded change (`load`, `map create`), logs `logged`, reports the recording.
    static func load(_ handler: HandlerRecord, into segment: SegmentOptions, recording record: RecordOptions, store: StoreOptions,
                     message: String, logged: String, allowDangling: Bool = false) throws {
        let log = BPFLog.logger("load")
        let done = try DanglingOptions.applying("load", allowDangling: allowDangling) {
            try segment.state().load(handler, allowingDanglingAttachments: allowDangling,
                                     recording: try record.recording(into: store), message: message)
        }
        log.info("\(logged)")
        DanglingOptions.warn(done.value, log: log)
        try RecordOptions.report(done.record)
    }
}

struct RemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Remove the shared-memory segment.")

    @OptionGroup var segment: SegmentOptions

    func run() throws {
        let name = try segment.configuration().name
        try Segment.remove(name: name, allowingOtherOwner: segment.allowOtherOwner)
        BPFLog.logger("remove").info("removed shared memory segment \(name)")
    }
}

struct UnloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unload",
        abstract: "Remove one handler from the segment (refused while another handler refers to it).")

    @Argument(help: "The fd to clear.") var fd: Int
    @OptionGroup var segment: SegmentOptions
    @OptionGroup var record: RecordOptions
    @OptionGroup var store: StoreOptions

    func run() throws {
        let done = try segment.state().unload(fd, recording: try record.recording(into: store), message: "unload fd \(fd)")
        BPFLog.logger("unload").info("removed handler at fd \(fd)")
        try RecordOptions.report(done.record)
    }
}

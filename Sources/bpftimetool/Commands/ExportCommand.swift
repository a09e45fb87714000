import ArgumentParser
import BPFInterchange
import BPFLogging
import BPFModel
import BPFReports
import BPFSegment

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the segment's handlers to a JSON file in bpftime's format, with map contents.")

    @Argument(help: "Output file, or - for stdout.") var file: String
    @Flag(name: .customLong("no-data"), help: "Leave map contents out (bpftime's own output).") var noData = false
    @OptionGroup var segment: SegmentOptions

    func run() throws {
        let log = BPFLog.logger("export")
        let shm = try segment.open()
        let records = try shm.records(includeContents: !noData)
        for record in records { log.info("\(HandlerDescription.exportLog(record))") }
        let identity = shm.fileIdentity
        let live = FileIO.Protected(device: identity.device, inode: identity.inode, role: "the segment \(shm.name) being exported")
        try FileIO.writeAtomically(file, protecting: [live]) { sink in
            try BPFTimeJSON.write(records, includeData: !noData, to: sink)
        }
    }
}

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Add the handlers of a bpftime JSON file to the segment (creating it if needed), all or nothing.")

    @Argument(help: "Input file, or - for stdin.") var file: String
    @OptionGroup var segment: SegmentOptions

    func run() throws {
        let log = BPFLog.logger("import")
        let bytes = try segment.readDocument(file)
        guard !bytes.starts(with: [0x7f, 0x45, 0x4c, 0x46]) else {
            throw ToolError("\(file) is an ELF file, not bpftime JSON: load eBPF objects with `bpftimetool prog load \(file)`")
        }
        let records = try BPFTimeJSON.decodeDocument(bytes)
        try segment.state().importRecords(records)
        for record in records { log.info("import handler type \(record.handler.kind.rawValue) fd \(record.fd)") }
        log.info("imported \(records.count) handlers from \(file)")
    }
}

struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Add one handler, given as a JSON object, at an fd.")

    @Argument(help: "The fd to load the handler at.") var fd: Int
    @Argument(help: "The handler as JSON, e.g. '{\"type\":\"epoll_handler\"}'.") var json: String
    @OptionGroup var segment: SegmentOptions

    func run() throws {
        let handler = try BPFTimeJSON.decodeHandler(fd: fd, Array(json.utf8))
        try segment.state().load(HandlerRecord(fd: fd, handler: handler))
        BPFLog.logger("load").info("loaded \(handler.kind.rawValue) at fd \(fd)")
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

    func run() throws {
        try segment.state().unload(fd)
        BPFLog.logger("unload").info("removed handler at fd \(fd)")
    }
}

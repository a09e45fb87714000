import BPFJSON
import ArgumentParser
import BPFLogging
import BPFModel
import BPFObject
import BPFReports
import BPFRuntime

/// `prog load`: an eBPF object compiled by clang, loaded as libbpf and bpftime's loader would.
struct ProgLoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Load a clang-compiled eBPF object (.bpf.o): its maps and programs, all or nothing.",
        discussion: """
        Maps, then programs, take the lowest free fds (from --fd-base, default 3). With --attach, \
        programs in uprobe/PATH:FUNC[+OFF], uretprobe/... and tracepoint/CAT/NAME sections also get a \
        perf event and a link; other sections are reported and left unattached. --attach-override \
        PROG=PATH:FUNC[+OFF] attaches a program (any section, e.g. bpftime's SEC("uprobe") uprobe-override \
        example) to a uprobe_override event there, whose bpf_override_return replaces the function's result.
        """)

    @Argument(help: "The object file (clang -target bpf -g -c).") var file: String
    @Option(name: .customLong("set"), help: "Set a global before load: NAME=INTEGER (of the variable's size) or NAME=hex:BYTES. Repeatable.")
    var settings: [String] = []
    @Option(name: .customLong("fd-base"), help: "The first fd to use (default 3).") var fdBase: Int?
    @Flag(help: "Create perf events and links from the programs' section names.") var attach = false
    @Option(name: .customLong("attach-override"), help: "Attach program PROG to a uprobe_override event: PROG=PATH:FUNC[+OFF]. Repeatable.")
    var overrides: [String] = []
    @Option(name: .customLong("tracepoint-id"), help: "The id of a tracepoint: CAT/NAME=ID. Repeatable.")
    var tracepointIDs: [String] = []
    @OptionGroup var output: JSONOptions
    @OptionGroup var segment: SegmentOptions
    @OptionGroup var record: RecordOptions
    @OptionGroup var store: StoreOptions

    func run() throws {
        let log = BPFLog.logger("prog load")
        let bytes = try FileIO.read(file, limit: 64 << 20, what: "an eBPF object")
        let ids = try tracepointIDs.reduce(into: [String: Int32]()) { ids, text in
            guard let (name, value) = Self.split(text), let id = Int32(value) else { throw ToolError("--tracepoint-id \(text): expected CAT/NAME=ID") }
            ids[name] = id
        }
        let overridden = try overrides.reduce(into: [String: String]()) { points, text in
            guard let (program, point) = Self.split(text), !point.isEmpty else { throw ToolError("--attach-override \(text): expected PROG=PATH:FUNC[+OFF]") }
            points[program] = point
        }
        let (object, plan, recorded) = try segment.state().withSegment(creating: true) { shm in
            let status = shm.status()
            var object = try BPFObject(bytes: bytes, fileName: file, possibleCPUs: status.cpuCount)
            for setting in settings { try Self.apply(setting, to: &object) }
            let generation = shm.tableGeneration
            let existing = try shm.records(includeContents: false)
            let plan = try ObjectLoadPlan(object, usedFDs: Set(existing.map(\.fd)), fdBase: fdBase ?? 3, maxFD: status.maxHandlers,
                                          attach: attach, overrides: overridden, tracepointIDs: ids, readFile: { try FileIO.read($0, limit: 256 << 20, what: "a file to attach to") })
            try ProgramCheck.validate(plan.records, maps: plan.records + existing)
            let done = try segment.state().change(recording: try record.recording(into: store), message: "prog load \(file)") { tx in
                try tx.apply(plan.records, ifTableGeneration: generation)
            }
            return (object, plan, done.record)
        }
        for entry in plan.entries { log.info("created \(entry.kind.rawValue) fd \(entry.fd) \(entry.name) (\(entry.section))") }
        for skipped in plan.unattached { log.warning("program \(skipped.program) (section \(skipped.section)) not attached: \(skipped.reason)") }
        if output.enabled {
            output.print(Self.json(object, plan))
        } else {
            var table = Table(header: ["FD", "KIND", "NAME", "SECTION"])
            for entry in plan.entries { table.add([String(entry.fd), entry.kind.shortName, entry.name, entry.section]) }
            print(table.rendered())
            for skipped in plan.unattached { print("not attached: \(skipped.program) (\(skipped.section)): \(skipped.reason)") }
        }
        try RecordOptions.report(recorded)
    }

    static func split(_ text: String) -> (String, String)? {
        guard let eq = text.firstIndex(of: "="), eq != text.startIndex else { return nil }
        return (String(text[..<eq]), String(text[text.index(after: eq)...]))
    }

    /// `NAME=VALUE`: an integer stored little-endian in the variable's size, or `hex:` bytes.
    static func apply(_ setting: String, to object: inout BPFObject) throws {
        guard let (name, text) = split(setting) else { throw ToolError("--set \(setting): expected NAME=VALUE") }
        guard let size = object.globalSize(name) else { throw ToolError("--set \(name): the object has no global variable \(name)") }
        if text.hasPrefix("hex:") {
            guard let bytes = Hex.decode(text.dropFirst(4)) else { throw ToolError("--set \(name): \"\(text)\" is not hex") }
            return try object.setGlobal(name, to: bytes)
        }
        guard let bytes = EntryText.littleEndian(text, size: size) else {
            throw ToolError("--set \(name): \"\(text)\" is not an integer that fits the variable's \(size) bytes (use hex:BYTES)")
        }
        try object.setGlobal(name, to: bytes)
    }

    static func json(_ object: BPFObject, _ plan: ObjectLoadPlan) -> JSONText {
        .object([
            ("object", .string(object.name)),
            ("license", object.license.map(JSONText.string) ?? .null),
            ("handlers", .array(plan.entries.map { e in
                .object([("fd", .int(e.fd)), ("kind", .string(e.kind.shortName)), ("name", .string(e.name)), ("section", .string(e.section))])
            })),
            ("unattached", .array(plan.unattached.map { u in
                .object([("program", .string(u.program)), ("section", .string(u.section)), ("reason", .string(u.reason))])
            })),
        ])
    }
}

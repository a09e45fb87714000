import BPFModel

/// The handlers that load an object into a segment, as bpftime's loader would create them:
/// maps, then programs, at the lowest free fds; with `attach`, a perf event and a link for
/// every program whose section names where it attaches; and a `uprobe_override` event and a
/// link for each program named in `overrides`, as bpftime's `attach_override.h` attaches its
/// uprobe-override example (whose section, a bare `SEC("uprobe")`, names no place).
public struct ObjectLoadPlan {
    /// One created handler, for the table `prog load` prints.
    public struct Entry: Equatable, Sendable {
        public var fd: Int
        public var kind: HandlerKind
        public var name: String
        /// The ELF section (maps and programs) or the attach point (perf events, links).
        public var section: String
    }

    /// A program left unattached, and why.
    public struct Unattached: Equatable, Sendable {
        public var program: String
        public var section: String
        public var reason: String
    }

    public var records: [HandlerRecord] = []
    public var entries: [Entry] = []
    public var unattached: [Unattached] = []

    /// Where to attach: the object, the fds in use, the first fd to consider, and for
    /// `attach`, tracepoint ids by `CAT/NAME` and a way to read the files uprobes name;
    /// `overrides` maps program names to the `PATH:FUNC[+OFF]` of their uprobe_override event.
    public init(_ object: BPFObject, usedFDs: Set<Int>, fdBase: Int = 3, maxFD: Int, attach: Bool,
                overrides: [String: String] = [:], tracepointIDs: [String: Int32] = [:],
                readFile: (String) throws -> [UInt8]) throws(ObjectError) {
        var next = max(0, fdBase)
        func takeFD() throws(ObjectError) -> Int {
            while usedFDs.contains(next) { next += 1 }
            guard next < maxFD else { throw ObjectError("no free fd below \(maxFD) for the object's handlers") }
            defer { next += 1 }
            return next
        }
        var mapFDs: [Int] = [], programFDs: [Int] = []
        for _ in object.maps { mapFDs.append(try takeFD()) }
        for _ in object.programs { programFDs.append(try takeFD()) }
        records = object.records(mapFDs: mapFDs, programFDs: programFDs)
        entries = zip(object.maps, mapFDs).map { Entry(fd: $1, kind: .map, name: $0.name, section: $0.section) }
            + zip(object.programs, programFDs).map { Entry(fd: $1, kind: .program, name: $0.name, section: $0.section) }
        let unknown = Set(overrides.keys).subtracting(object.programs.map(\.name))
        guard unknown.isEmpty else { throw ObjectError("no program named \(unknown.sorted().joined(separator: ", ")) to attach as uprobe_override") }
        for (program, fd) in zip(object.programs, programFDs) {
            let override = overrides[program.name]
            guard attach || override != nil else { continue }
            let event: PerfEventHandler.Event
            switch override.map({ AttachPoint.parse("uprobe/" + $0) }) ?? AttachPoint.parse(program.section) {
            case .failure(let reason):
                if let override { throw ObjectError("uprobe_override of \(program.name) at \(override): \(reason)") }
                unattached.append(Unattached(program: program.name, section: program.section, reason: reason.description))
                continue
            case .success(.uprobe(let path, let function, let offset, let returning)):
                do {
                    let target = PerfEventHandler.UprobeTarget(moduleName: path, offset: try AttachPoint.fileOffset(path, function, offset, readFile))
                    event = override != nil ? .uprobeOverride(target) : returning ? .uretprobe(target) : .uprobe(target)
                } catch {
                    if let override { throw ObjectError("uprobe_override of \(program.name) at \(override): \(error)") }
                    unattached.append(Unattached(program: program.name, section: program.section, reason: "\(error)"))
                    continue
                }
            case .success(.tracepoint(let name)):
                guard let id = tracepointIDs[name] ?? AttachPoint.tracefsID(name, readFile) else {
                    unattached.append(Unattached(program: program.name, section: program.section,
                                                 reason: "no id known for tracepoint \(name) (give --tracepoint-id \(name)=ID)"))
                    continue
                }
                event = .tracepoint(pid: -1, tracepointID: id)
            }
            let eventFD = try takeFD(), linkFD = try takeFD()
            records.append(HandlerRecord(fd: eventFD, handler: .perfEvent(PerfEventHandler(event: event, enabled: true))))
            records.append(HandlerRecord(fd: linkFD, handler: .link(LinkHandler(programFD: fd, targetFD: eventFD))))
            let point = AttachPoint.describe(event)
            entries.append(Entry(fd: eventFD, kind: .perfEvent, name: event.typeName, section: point))
            entries.append(Entry(fd: linkFD, kind: .link, name: "\(program.name) -> \(eventFD)", section: point))
        }
    }
}

/// Where a program section says it attaches (libbpf's `SEC()` syntax).
enum AttachPoint {
    case uprobe(path: String, function: String, offset: UInt64, returning: Bool)
    case tracepoint(String)

    static func parse(_ section: String) -> Result<AttachPoint, ObjectError> {
        let parts = section.split(separator: "/", maxSplits: 1).map(String.init)
        let kind = parts[0], rest = parts.count > 1 ? parts[1] : ""
        switch kind {
        case "uprobe", "uretprobe", "uprobe.s", "uretprobe.s":
            guard let colon = rest.lastIndex(of: ":"), colon != rest.startIndex else {
                return .failure(ObjectError("the section names no PATH:FUNCTION to attach to (attach it by hand)"))
            }
            let path = String(rest[..<colon])
            let spec = rest[rest.index(after: colon)...].split(separator: "+", maxSplits: 1).map(String.init)
            var offset: UInt64 = 0
            if spec.count == 2 {
                guard let o = number(spec[1]) ?? UInt64(spec[1]) else { return .failure(ObjectError("bad offset \"\(spec[1])\"")) }
                offset = o
            }
            guard let function = spec.first, !function.isEmpty else { return .failure(ObjectError("no function after \(path):")) }
            return .success(.uprobe(path: path, function: function, offset: offset, returning: kind.hasPrefix("uretprobe")))
        case "tracepoint", "tp":
            guard rest.split(separator: "/").count == 2 else { return .failure(ObjectError("the section names no CATEGORY/NAME")) }
            return .success(.tracepoint(rest))
        default:
            return .failure(ObjectError("\(kind) programs cannot be attached by this runtime"))
        }
    }

    /// FUNCTION's file offset in PATH (or FUNCTION itself when it is an address), plus `offset`.
    static func fileOffset(_ path: String, _ function: String, _ offset: UInt64, _ readFile: (String) throws -> [UInt8]) throws -> UInt64 {
        let base: UInt64
        if let address = number(function) {
            base = address
        } else {
            do {
                base = try ELFFile(bytes: try readFile(path)).fileOffset(ofFunction: function)
            } catch let error as ObjectError {
                throw ObjectError("\(path): \(error)")
            }
        }
        let (sum, overflow) = base.addingReportingOverflow(offset)
        guard !overflow else { throw ObjectError("offset \(base) + \(offset) overflows") }
        return sum
    }

    /// The id tracefs gives `CAT/NAME`, when tracefs is readable here.
    static func tracefsID(_ name: String, _ readFile: (String) throws -> [UInt8]) -> Int32? {
        for root in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
            if let bytes = try? readFile("\(root)/events/\(name)/id"),
               let id = Int32(String(decoding: bytes.filter { $0 >= 0x30 && $0 <= 0x39 }, as: UTF8.self)) {
                return id
            }
        }
        return nil
    }

    static func describe(_ event: PerfEventHandler.Event) -> String {
        switch event {
        case .uprobe(let t), .uretprobe(let t), .uprobeOverride(let t): "\(t.moduleName):0x\(String(t.offset, radix: 16))"
        case .tracepoint(_, let id): "tracepoint \(id)"
        case .software: "software"
        case .opaque(let type, _): "perf event type \(type)"
        }
    }

    /// A 0x-hex number (a function given as an address); `nil` for anything else.
    static func number(_ text: String) -> UInt64? {
        text.hasPrefix("0x") || text.hasPrefix("0X") ? UInt64(text.dropFirst(2), radix: 16) : nil
    }
}

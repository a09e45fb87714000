import BPFJSON
import BPFModel

/// One-line summaries of handlers for tables and logs.
public enum HandlerDescription {
    public static func details(_ handler: Handler, entries: Int? = nil) -> String {
        switch handler {
        case .program(let p):
            var s = "type=\(p.type) insns=\(p.instructionCount)"
            if !p.attachments.isEmpty { s += " attach=" + p.attachments.map { String($0.targetFD) }.joined(separator: ",") }
            if let image = p.aotImage { s += " aot=\(image.count) bytes" }
            return s
        case .map(let m):
            let a = m.attributes
            var s = "\(mapTypeName(a.mapType)) key=\(a.keySize) value=\(a.valueSize) max_entries=\(a.maxEntries)"
            if let entries { s += " entries=\(entries)" }
            if a.flags != 0 { s += " flags=0x\(String(a.flags, radix: 16))" }
            return s
        case .perfEvent(let e):
            let state = e.enabled ? "enabled" : "disabled"
            switch e.event {
            case .uprobe(let t), .uretprobe(let t), .uprobeOverride(let t):
                return "\(e.event.typeName) \(t.moduleName):0x\(String(t.offset, radix: 16)) pid=\(t.pid) \(state)"
            case .tracepoint(let pid, let id):
                return "tracepoint id=\(id) pid=\(pid) \(state)"
            case .software(let cpu, let config, let sampleType):
                return "software cpu=\(cpu) config=\(config) sample_type=\(sampleType) \(state)"
            case .opaque(let type, let target):
                return "type \(type) (kept, never fired)" + (target.map { " \($0.moduleName):0x\(String($0.offset, radix: 16))" } ?? "") + " \(state)"
            }
        case .link(let l):
            var s = "prog \(l.programFD) -> \(l.targetFD)"
            if l.attachType != 0 { s += " attach_type=\(l.attachType)" }
            if l.cookie != 0 { s += " cookie=\(l.cookie)" }
            return s
        case .epoll: return ""
        case .memfd(let m): return "flags=\(m.flags)"
        }
    }

    public static func mapTypeName(_ type: UInt32) -> String {
        guard let kind = MapKind(mapType: type) else { return "type \(type)" }
        let name: String
        switch kind {
        case .hash: name = "hash"
        case .array: name = "array"
        case .progArray: name = "prog_array"
        case .perfEventArray: name = "perf_event_array"
        case .percpuHash: name = "percpu_hash"
        case .percpuArray: name = "percpu_array"
        case .lruHash: name = "lru_hash"
        case .lruPercpuHash: name = "lru_percpu_hash"
        case .queue: name = "queue"
        case .stack: name = "stack"
        case .ringbuf: name = "ringbuf"
        case .stackTrace: name = "stack_trace"
        }
        return type > MapKind.kernelUserOffset ? "kernel_user_\(name)" : name
    }

    /// The line bpftime logs for each handler it exports.
    public static func exportLog(_ r: HandlerRecord) -> String {
        switch r.handler {
        case .program(let p): "find prog fd=\(r.fd) name=\(p.name)"
        case .map(let m): "bpf_map_handler name=\(m.name) found at \(r.fd)"
        case .perfEvent: "bpf_perf_event_handler found at \(r.fd)"
        case .link(let l): "bpf_link_handler found at \(r.fd), link \(l.programFD) -> \(l.targetFD)"
        case .epoll: "epoll_handler found at \(r.fd)"
        case .memfd(let m): "memfd_handler name=\(m.name) found at \(r.fd)"
        }
    }
}

/// A handler table as `list` and `snap show` print it; `entries` gives a map's entry count.
public struct HandlerListing {
    public let records: [HandlerRecord]
    public let entries: (HandlerRecord) -> Int?

    public init(records: [HandlerRecord], entries: @escaping (HandlerRecord) -> Int?) {
        self.records = records
        self.entries = entries
    }

    /// A stored snapshot's handlers with the entry counts the history keeps (contents unread).
    public init(summaries: [(record: HandlerRecord, entries: Int?)]) {
        let counts = Dictionary(uniqueKeysWithValues: summaries.compactMap { s in s.entries.map { (s.record.fd, $0) } })
        self.init(records: summaries.map(\.record)) { counts[$0.fd] }
    }

    public var table: Table {
        var table = Table(header: ["FD", "KIND", "NAME", "DETAILS"])
        for r in records {
            table.add([String(r.fd), r.handler.kind.shortName, r.handler.name ?? "-",
                       HandlerDescription.details(r.handler, entries: entries(r))])
        }
        return table
    }

    /// Each handler with its summary as one `details` string (`snap show --json`, the browser's API).
    public var json: JSONText { rows { ("details", .string(HandlerDescription.details($0.handler))) } }

    /// Each handler with its attributes as fields (`list --json`).
    public var structuredJSON: JSONText { rows { ("attributes", HandlerAttributes.json($0.handler)) } }

    private func rows(_ describe: (HandlerRecord) -> (String, JSONText)) -> JSONText {
        .array(records.map { r in
            var fields: [(String, JSONText)] = [
                ("fd", .int(r.fd)), ("kind", .string(r.handler.kind.rawValue)),
                ("name", r.handler.name.map(JSONText.string) ?? .null), describe(r),
            ]
            if let n = entries(r) { fields.append(("entries", .int(n))) }
            return .object(fields)
        })
    }
}

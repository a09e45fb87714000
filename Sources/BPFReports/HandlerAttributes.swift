import BPFModel

/// A handler's attributes as JSON fields (`list --json`): what the table's DETAILS column
/// summarizes, each under bpftime's field name where it has one, numbers as numbers.
public enum HandlerAttributes {
    public static func json(_ handler: Handler) -> JSONText {
        switch handler {
        case .program(let p):
            return .object([
                ("type", .int(Int64(p.type))), ("insns", .int(p.instructionCount)),
                ("attach_fds", .array(p.attachments.map { .int($0.targetFD) })),
                ("attach_cookies", .array(p.attachments.map { .uint($0.cookie) })),
                ("aot_bytes", p.aotImage.map { .int($0.count) } ?? .null),
            ])
        case .map(let m):
            let a = m.attributes
            return .object([
                ("map_type", .uint(UInt64(a.mapType))), ("map_type_name", .string(HandlerDescription.mapTypeName(a.mapType))),
                ("key_size", .uint(UInt64(a.keySize))), ("value_size", .uint(UInt64(a.valueSize))),
                ("max_entries", .uint(UInt64(a.maxEntries))), ("flags", .uint(a.flags)),
            ])
        case .perfEvent(let e):
            return .object([("type", .int(Int64(e.event.typeCode))), ("type_name", .string(e.event.typeName)),
                            ("enabled", .bool(e.enabled))] + eventFields(e.event))
        case .link(let l):
            return .object([("prog_fd", .int(l.programFD)), ("target_fd", .int(l.targetFD)),
                            ("attach_type", .uint(UInt64(l.attachType))), ("cookie", .uint(l.cookie))])
        case .epoll:
            return .object([])
        case .memfd(let m):
            return .object([("flags", .uint(UInt64(m.flags)))])
        }
    }

    private static func eventFields(_ event: PerfEventHandler.Event) -> [(String, JSONText)] {
        switch event {
        case .uprobe(let t), .uretprobe(let t), .uprobeOverride(let t):
            return target(t)
        case .opaque(_, let t):
            return t.map(target) ?? []
        case .tracepoint(let pid, let id):
            return [("pid", .int(Int64(pid))), ("tracepoint_id", .int(Int64(id)))]
        case .software(let cpu, let config, let sampleType):
            return [("cpu", .int(Int64(cpu))), ("config", .int(config)), ("sample_type", .int(Int64(sampleType)))]
        }
    }

    private static func target(_ t: PerfEventHandler.UprobeTarget) -> [(String, JSONText)] {
        [("_module_name", .string(t.moduleName)), ("offset", .uint(t.offset)), ("pid", .int(Int64(t.pid))),
         ("ref_ctr_off", .uint(t.refCtrOffset))]
    }
}

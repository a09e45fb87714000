import BPFJSON
import BPFModel

/// Turns one parsed handler object into a `Handler`, checking every field's type and range.
/// Absent optional fields take bpftime's defaults: 0, -1 for pids and tracepoint ids,
/// false for `enabled`, "" for names.
struct HandlerReader {
    let fields: JSONFields

    init(_ source: JSONSource, _ members: [JSONMember]) {
        fields = JSONFields(source: source, members: members, path: "")
    }

    func read() throws -> Handler {
        let type = try fields.string("type")
        guard let kind = HandlerKind(rawValue: type) else {
            throw fields.error("type", "unknown handler type \"\(type)\"")
        }
        switch kind {
        case .program: return .program(try program())
        case .map: return .map(try map())
        case .perfEvent: return .perfEvent(try perfEvent())
        case .link: return .link(try link())
        case .epoll: return .epoll
        case .memfd: return .memfd(try memfd())
        }
    }

    private func program() throws -> ProgramHandler {
        let attr = try fields.object("attr")
        let bytecode = try attr.hex("insns")
        let size = ProgramHandler.instructionSize
        guard bytecode.count % size == 0 else {
            throw attr.error("insns", "\(bytecode.count) bytes is not a whole number of \(size)-byte instructions")
        }
        let instructions = bytecode.count / size
        guard instructions <= ProgramHandler.maxInstructions else {
            throw attr.error("insns", "\(instructions) instructions, more than the limit of \(ProgramHandler.maxInstructions)")
        }
        let declared: UInt64 = try attr.integer("cnt", default: UInt64(instructions))
        guard declared == UInt64(instructions) else {
            throw attr.error("cnt", "is \(declared) but insns hold \(instructions) instructions")
        }
        let fds = try attr.array("attach_fds") { try attr.fd($0, field: $1) }
        let cookies: [UInt64] = try attr.array("attach_cookies") { try attr.integer($0, field: $1) }
        guard cookies.isEmpty || cookies.count == fds.count else {
            throw attr.error("attach_cookies", "has \(cookies.count) entries but attach_fds has \(fds.count)")
        }
        let attachments = fds.indices.map {
            ProgramHandler.Attachment(targetFD: fds[$0], cookie: cookies.isEmpty ? 0 : cookies[$0])
        }
        let image = attr.value("aot_insns") == nil ? nil : try attr.hex("aot_insns")
        return ProgramHandler(name: try fields.string("name", default: ""), type: try attr.integer("type", default: 0),
                              bytecode: bytecode, attachments: attachments, aotImage: image)
    }

    private func map() throws -> MapHandler {
        let attr = try fields.object("attr")
        let attributes = MapAttributes(fieldValues: try attr.fields(MapAttributes.fields))
        var contents: MapContents? = nil
        if case .deferred(let from, let to)? = fields.value("data") {
            contents = try MapDataReader.read(fields.source, from: from, to: to, attributes: attributes)
        }
        return MapHandler(name: try fields.string("name", default: ""), attributes: attributes, contents: contents,
                          frozen: try fields.bool("frozen", default: false))
    }

    private func perfEvent() throws -> PerfEventHandler {
        let attr = try fields.object("attr")
        let type: Int32 = try attr.integer("type")
        // An opaque event has a uprobe target when its JSON names a module.
        let table = PerfEventHandler.Event.fields(type: type, hasTarget: attr.value("_module_name") != nil)
        let event = PerfEventHandler.Event(type: type, fieldValues: try attr.fields(table))
        // bpftime creates uprobe_override events enabled; the others wait for an enable.
        let enabledByDefault = type == PerfEventType.uprobeOverride
        return PerfEventHandler(event: event, enabled: try fields.bool("enabled", default: enabledByDefault))
    }

    private func link() throws -> LinkHandler {
        let attr = try fields.object("attr")
        return LinkHandler(fieldValues: try attr.fields(LinkHandler.fields))
    }

    /// The name is bpftime's `attr.name`; a top-level `name` (our older files) is read too.
    private func memfd() throws -> MemfdHandler {
        let attr = try fields.optionalObject("attr") ?? JSONFields(source: fields.source, members: [], path: "attr.")
        let name = attr.value("name") != nil ? try attr.string("name") : try fields.string("name", default: "")
        return MemfdHandler(name: name, fieldValues: try attr.fields(MemfdHandler.fields))
    }
}

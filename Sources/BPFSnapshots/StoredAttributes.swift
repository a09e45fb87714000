import BPFJSON
import BPFModel

/// A handler's attributes as the JSON text of `handler_states.attributes`: everything but its
/// kind, name and bulk content (instructions, map entries), which have their own columns.
/// Keys are sorted bytewise, so that equal handlers give equal text (the text is part of the
/// state hash, `PreparedState.stateHasher`: its bytes never change for a given handler).
///
/// The scalar fields are BPFModel's field tables, under bpftime's names, but where the history
/// has stored another name since its first schema: `historyNames`, a perf event's type as its
/// name (`typeName`, "opaque" with the number in `code`), and a program's attachments as one
/// array of `{"cookie", "target_fd"}` (bpftime's `attach_fds`/`attach_cookies`). Renaming those
/// would change every stored state's hash, and so what two histories agree a snapshot is.
enum StoredAttributes {
    /// bpftime's field names that the history stores under another.
    static let historyNames = ["_module_name": "module_name", "ref_ctr_off": "ref_ctr_offset"]

    static func encode(_ handler: Handler) -> String {
        var members: [(String, JSONText)]
        switch handler {
        case .program(let p):
            members = [("type", .int(Int64(p.type))), ("attachments", .array(p.attachments.map {
                .object([("cookie", .uint($0.cookie)), ("target_fd", .int($0.targetFD))])
            }))]
        case .map(let m):
            members = fields(MapAttributes.fields, m.attributes.fieldValues)
            // Only when frozen, so that the text of every map saved before it existed stays the same.
            if m.frozen { members.append(("frozen", .bool(true))) }
        case .perfEvent(let e):
            members = fields(e.event.fields, e.event.fieldValues) + [("enabled", .bool(e.enabled))]
            if case .opaque(let code, _) = e.event {
                members += [("type", .string("opaque")), ("code", .int(Int64(code)))]
            } else {
                members.append(("type", .string(e.event.typeName)))
            }
        case .link(let l): members = fields(LinkHandler.fields, l.fieldValues)
        case .epoll: members = []
        case .memfd(let m): members = fields(MemfdHandler.fields, m.fieldValues)
        }
        members.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        return JSONText.object(members).compact
    }

    private static func fields(_ fields: [HandlerField], _ values: [FieldValue]) -> [(String, JSONText)] {
        JSONText.members(fields, values) { historyNames[$0.name] ?? $0.name }
    }

    /// Rebuilds a handler from its stored columns; throws `DecodingError` on text this build
    /// cannot read. Every field the encoder writes must be there.
    static func decode(kind: HandlerKind, name: String?, attributes: String,
                       bytecode: [UInt8]?, aotImage: [UInt8]?, contents: MapContents?) throws -> Handler {
        let a = try AttributeObject(attributes)
        switch kind {
        case .program:
            // Int64: histories written when the type was unsigned hold values above Int32.max,
            // which mean the same 32-bit pattern.
            let type: Int64 = try a.integer(required: "type")
            return .program(ProgramHandler(
                name: name ?? "", type: Int32(truncatingIfNeeded: type), bytecode: bytecode ?? [],
                attachments: try a.objects(required: "attachments").map {
                    .init(targetFD: try $0.integer(required: "target_fd"), cookie: try $0.integer(required: "cookie"))
                }, aotImage: aotImage))
        case .map:
            return .map(MapHandler(name: name ?? "", attributes: MapAttributes(fieldValues: try values(a, MapAttributes.fields)),
                                   contents: contents, frozen: try a.bool("frozen") == true))
        case .perfEvent:
            return .perfEvent(PerfEventHandler(event: try event(a), enabled: try a.bool(required: "enabled")))
        case .link:
            return .link(LinkHandler(fieldValues: try values(a, LinkHandler.fields)))
        case .epoll:
            return .epoll
        case .memfd:
            return .memfd(MemfdHandler(name: name ?? "", fieldValues: try values(a, MemfdHandler.fields)))
        }
    }

    private static func event(_ a: AttributeObject) throws -> PerfEventHandler.Event {
        guard let name = try a.string("type") else { throw AttributeObject.corrupt("perf event without type") }
        if name == "opaque" {
            let target = try a.string("module_name") == nil ? nil
                : PerfEventHandler.UprobeTarget(fieldValues: try values(a, PerfEventHandler.UprobeTarget.fields))
            return .opaque(type: try a.integer(required: "code"), target: target)
        }
        guard let type = PerfEventType.known.first(where: { PerfEventHandler.Event.typeName(of: $0) == name }) else {
            throw AttributeObject.corrupt("unknown perf event type \(name)")
        }
        return PerfEventHandler.Event(type: type, fieldValues: try values(a, PerfEventHandler.Event.fields(type: type)))
    }

    private static func values(_ a: AttributeObject, _ fields: [HandlerField]) throws -> [FieldValue] {
        try fields.map { field in
            let name = historyNames[field.name] ?? field.name
            guard field.type == .string else { return .integer(try a.integer(required: name, of: field)) }
            guard let text = try a.string(name) else { throw AttributeObject.corrupt("\(name) is missing") }
            return .string(text)
        }
    }
}

import BPFJSON
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
            // A summary (the DETAILS column's fields), not every attribute.
            let a = m.attributes
            return .object([
                ("map_type", .uint(UInt64(a.mapType))), ("map_type_name", .string(HandlerDescription.mapTypeName(a.mapType))),
                ("key_size", .uint(UInt64(a.keySize))), ("value_size", .uint(UInt64(a.valueSize))),
                ("max_entries", .uint(UInt64(a.maxEntries))), ("flags", .uint(a.flags)),
            ])
        case .perfEvent(let e):
            return .object([("type", .int(Int64(e.event.typeCode))), ("type_name", .string(e.event.typeName)),
                            ("enabled", .bool(e.enabled))] + JSONText.members(e.event.fields, e.event.fieldValues))
        case .link(let l):
            return .object(JSONText.members(LinkHandler.fields, l.fieldValues))
        case .epoll:
            return .object([])
        case .memfd(let m):
            return .object(JSONText.members(MemfdHandler.fields, m.fieldValues))
        }
    }
}

import BPFModel
import Foundation

/// Attribute-level differences, named as the `handler_states.attributes` JSON names them, so
/// what the diff reports is what a query at the sqlite3 prompt shows.
enum AttributeDiff {
    static func changes(_ old: Handler, _ new: Handler) -> [(name: String, old: String, new: String)] {
        let a = fields(old), b = fields(new)
        return Set(a.keys).union(b.keys).sorted { rank($0) == rank($1) ? $0 < $1 : rank($0) < rank($1) }.compactMap { name in
            let x = a[name] ?? "-", y = b[name] ?? "-"
            return x == y ? nil : (name, x, y)
        }
    }

    private static func rank(_ name: String) -> Int { name == "kind" ? 0 : name == "name" ? 1 : 2 }

    private static func fields(_ handler: Handler) -> [String: String] {
        var fields = ["kind": handler.kind.shortName]
        if let name = handler.name { fields["name"] = name }
        let json = Data(StoredAttributes.encode(handler).utf8)
        if let object = try? JSONDecoder().decode([String: JSONValue].self, from: json) {
            for (key, value) in object { fields[key] = value.text }
        }
        if case .program(let p) = handler { fields["aot"] = aotSummary(p.aotImage) }
        return fields
    }

    /// AOT code is a blob beside the attributes: its size, and a hash prefix so that a
    /// recompiled image of the same size still shows as changed.
    private static func aotSummary(_ image: [UInt8]?) -> String {
        guard let image else { return "absent" }
        return "\(image.count) bytes (sha256 \(Hex.encode(Array(SHA256.hash(image).prefix(4)))))"
    }
}

/// Any JSON value, decoded exactly (64-bit integers stay integers) and rendered compactly.
private indirect enum JSONValue: Decodable {
    case text(String), number(String), bool(Bool), null
    case array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let v = try? c.decode(Bool.self) { self = .bool(v) }
        else if let v = try? c.decode(Int64.self) { self = .number(String(v)) }
        else if let v = try? c.decode(UInt64.self) { self = .number(String(v)) }
        else if let v = try? c.decode(Double.self) { self = .number(String(v)) }
        else if let v = try? c.decode(String.self) { self = .text(v) }
        else if let v = try? c.decode([JSONValue].self) { self = .array(v) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    var text: String {
        switch self {
        case .text(let s): s
        case .number(let n): n
        case .bool(let b): String(b)
        case .null: "null"
        case .array(let items): "[" + items.map(\.text).joined(separator: ", ") + "]"
        case .object(let fields): "{" + fields.keys.sorted().map { "\($0): \(fields[$0]?.text ?? "")" }.joined(separator: ", ") + "}"
        }
    }
}

/// A parsed JSON value whose strings and numbers still point into the source: a reader takes
/// what it needs (and converts, checks, names errors) from there.
public enum JSONValue {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(JSONString)
    case array([JSONValue])
    case object([JSONMember])
    /// A value only syntax-checked (`from..<to`), for its own reader to read later: bpftime's
    /// map data, possibly millions of entries, is read straight into buffers, not kept as values.
    case deferred(from: Int, to: Int)

    /// How the value is named in "expected X, got Y" messages.
    public func summary(in source: JSONSource) -> String {
        switch self {
        case .null: "null"
        case .bool(let b): b ? "true" : "false"
        case .number(let n): source.text(of: n)
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        case .deferred: "a nested value"
        }
    }
}

public struct JSONMember {
    public var key: JSONString
    public var value: JSONValue

    public init(key: JSONString, value: JSONValue) {
        self.key = key
        self.value = value
    }
}

extension JSONScanner {
    /// Parses one value; when `keep` is false, only checks it and returns it `.deferred`.
    public mutating func parseValue(depth: Int, keep: Bool = true) throws -> JSONValue {
        skipWhitespace()
        let from = pos
        let value = try parse(depth: depth, keep: keep)
        return keep ? value : .deferred(from: from, to: pos)
    }

    private mutating func parse(depth: Int, keep: Bool) throws -> JSONValue {
        switch peek() {
        case UInt8(ascii: "{"):
            try enter(UInt8(ascii: "{"), depth: depth)
            var members: [JSONMember] = []
            var first = true
            while let key = try nextMember(&first) {
                let value = try parseValue(depth: depth + 1, keep: keep)
                if keep { members.append(JSONMember(key: key, value: value)) }
            }
            return .object(members)
        case UInt8(ascii: "["):
            try enter(UInt8(ascii: "["), depth: depth)
            var elements: [JSONValue] = []
            var first = true
            while try nextElement(&first) {
                let value = try parseValue(depth: depth + 1, keep: keep)
                if keep { elements.append(value) }
            }
            return .array(elements)
        case UInt8(ascii: "\""): return .string(try scanString())
        case UInt8(ascii: "t"): try scanLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try scanLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try scanLiteral("null"); return .null
        default: return .number(try scanNumber())
        }
    }
}

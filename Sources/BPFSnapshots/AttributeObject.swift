import BPFJSON
import BPFModel

/// A stored attribute text (`handler_states.attributes`, one JSON object) parsed for reading
/// back, by the project's one JSON reader (`JSONScanner`; `JSONDecoder` cost tens of
/// microseconds per small object, most of the time a restore of 10,000 handlers spent reading
/// the history). Numbers must be integers (every stored field is); anything that is not such
/// JSON throws `DecodingError`, as `JSONDecoder` did.
struct AttributeObject {
    enum Value {
        case integer(negative: Bool, magnitude: UInt64)
        case string(String)
        case bool(Bool)
        case null
        case array([Value])
        case object([String: Value])
    }

    let members: [String: Value]

    init(_ text: String) throws {
        guard case .object(let members) = try Self.value(text) else { throw Self.corrupt("attributes are not a JSON object") }
        self.members = members
    }

    /// Any stored JSON text (an array of fds, say) as one value.
    static func value(_ text: String) throws -> Value {
        var text = text
        return try text.withUTF8 { bytes in
            try JSONSource.with(UnsafeRawBufferPointer(bytes)) { source in
                do {
                    var scanner = JSONScanner(source)
                    let value = try scanner.parseValue(depth: 0)
                    try scanner.expectEnd()
                    return try Self.value(value, in: source)
                } catch let error as JSONSyntaxError {
                    throw corrupt("\(error)")
                }
            }
        }
    }

    /// A parsed value with its strings and integers taken out of the source.
    private static func value(_ value: JSONValue, in source: JSONSource) throws -> Value {
        switch value {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .number(let n):
            guard let magnitude = n.magnitude else { throw corrupt("\(source.text(of: n)) is not a 64-bit integer") }
            return .integer(negative: n.negative, magnitude: magnitude)
        case .string(let s): return .string(try string(s, in: source))
        case .array(let items): return .array(try items.map { try Self.value($0, in: source) })
        case .object(let members):
            var fields: [String: Value] = [:]
            for member in members { fields[try string(member.key, in: source)] = try Self.value(member.value, in: source) }
            return .object(fields)
        case .deferred: throw corrupt("a value was not read")
        }
    }

    private static func string(_ s: JSONString, in source: JSONSource) throws -> String {
        guard let text = source.text(of: s) else { throw corrupt("a string is not valid UTF-8") }
        return text
    }

    init(_ value: Value, field: String) throws {
        guard case .object(let members) = value else { throw Self.corrupt("\(field) holds a non-object") }
        self.members = members
    }

    /// An integer field converted to `T`; nil when absent or null.
    func integer<T: FixedWidthInteger>(_ name: String, as: T.Type = T.self) throws -> T? {
        switch members[name] {
        case nil, .null?: return nil
        case .integer(let negative, let magnitude)?:
            // A negative magnitude up to 2^63 is an Int64 in two's complement.
            let value = !negative ? T(exactly: magnitude)
                : magnitude <= UInt64(Int64.max) + 1 ? T(exactly: Int64(bitPattern: 0 &- magnitude)) : nil
            guard let value else { throw Self.corrupt("\(name) is out of range") }
            return value
        default: throw Self.corrupt("\(name) is not an integer")
        }
    }

    func integer<T: FixedWidthInteger>(required name: String, as: T.Type = T.self) throws -> T {
        guard let value = try integer(name, as: T.self) else { throw Self.corrupt("\(name) is missing") }
        return value
    }

    /// An integer field as its field's type holds it (see `FieldValue`).
    func integer(required name: String, of field: HandlerField) throws -> Int64 {
        guard case .integer(let negative, let magnitude)? = members[name] else {
            throw Self.corrupt(members[name] == nil ? "\(name) is missing" : "\(name) is not an integer")
        }
        guard let value = field.integer(negative: negative, magnitude: magnitude) else { throw Self.corrupt("\(name) is out of range") }
        return value
    }

    func string(_ name: String) throws -> String? {
        try field(name, "a string") { if case .string(let s) = $0 { return s }; return nil }
    }

    func bool(required name: String) throws -> Bool {
        guard let b = try bool(name) else { throw Self.corrupt("\(name) is missing") }
        return b
    }

    /// A boolean field; nil when absent or null.
    func bool(_ name: String) throws -> Bool? {
        try field(name, "a boolean") { if case .bool(let b) = $0 { return b }; return nil }
    }

    /// The field `name` as `take` reads it; nil when absent or null, an error when `take` cannot.
    private func field<T>(_ name: String, _ kind: String, _ take: (Value) -> T?) throws -> T? {
        guard let value = members[name] else { return nil }
        if case .null = value { return nil }
        guard let taken = take(value) else { throw Self.corrupt("\(name) is not \(kind)") }
        return taken
    }

    func objects(required name: String) throws -> [AttributeObject] {
        guard case .array(let items)? = members[name] else { throw Self.corrupt("\(name) is missing or not an array") }
        return try items.map { try AttributeObject($0, field: name) }
    }

    /// An array of fds (`restores.fds`).
    static func fds(_ text: String) throws -> [Int] {
        guard case .array(let items) = try value(text) else { throw corrupt("not an array") }
        return try items.map { item in
            guard case .integer(false, let magnitude) = item, let fd = Int(exactly: magnitude) else { throw corrupt("not an fd") }
            return fd
        }
    }

    static func corrupt(_ message: String) -> DecodingError {
        .dataCorrupted(.init(codingPath: [], debugDescription: message))
    }

    /// A value as `snap diff` shows an attribute: strings unquoted, containers compactly
    /// (`[1, 2]`, `{key: value}` with keys sorted).
    static func text(_ value: Value) -> String {
        switch value {
        case .integer(let negative, let magnitude): (negative && magnitude != 0 ? "-" : "") + String(magnitude)
        case .string(let s): s
        case .bool(let b): String(b)
        case .null: "null"
        case .array(let items): "[" + items.map(text).joined(separator: ", ") + "]"
        case .object(let fields): "{" + fields.keys.sorted().map { "\($0): \(fields[$0].map(text) ?? "")" }.joined(separator: ", ") + "}"
        }
    }
}

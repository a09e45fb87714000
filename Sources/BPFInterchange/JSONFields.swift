import BPFJSON
import BPFModel

extension JSONScanner {
    /// A handler object: like `parseValue`, except that a `"data"` member (map contents, possibly
    /// millions of entries) is only skipped here and read once the map's attributes are known.
    mutating func parseHandlerObject(depth: Int) throws -> [JSONMember] {
        try enter(UInt8(ascii: "{"), depth: depth)
        var members: [JSONMember] = []
        var first = true
        while let key = try nextMember(&first) {
            let keep = !source.equals(key, "data")
            members.append(JSONMember(key: key, value: try parseValue(depth: depth + 1, keep: keep)))
        }
        return members
    }
}

/// Typed, defaulted access to an object's fields, with errors naming the field's path.
struct JSONFields {
    let source: JSONSource
    let members: [JSONMember]
    /// Prefix of this object's field paths (`""` for a handler, `"attr."` for its attributes).
    let path: String

    /// The member's value; the last one wins if a name repeats, as with nlohmann.
    func value(_ name: String) -> JSONValue? {
        members.last { source.equals($0.key, name) }?.value
    }

    func error(_ name: String, _ message: String) -> InterchangeError {
        InterchangeError(field: path + name, message)
    }

    func required(_ name: String) throws -> JSONValue {
        guard let v = value(name) else { throw error(name, "missing") }
        return v
    }

    /// The field converted by `convert`; `fallback` when absent (absent without one is an error).
    private func field<T>(_ name: String, _ fallback: T?, _ convert: (JSONValue) throws -> T) throws -> T {
        guard let v = value(name) else {
            guard let fallback else { throw error(name, "missing") }
            return fallback
        }
        return try convert(v)
    }

    func integer<T: FixedWidthInteger>(_ name: String, default fallback: T? = nil) throws -> T {
        try field(name, fallback) { try integer($0, field: name) }
    }

    func integer<T: FixedWidthInteger>(_ v: JSONValue, field: String) throws -> T {
        if case .number(let n) = v, let value = n.value(as: T.self) { return value }
        throw error(field, "expected \(Self.describe(T.self)), got \(v.summary(in: source))")
    }

    /// Scalar fields by their table, each checked against its type; absent ones take their default.
    func fields(_ fields: [HandlerField]) throws -> [FieldValue] {
        try fields.map { f in
            guard let v = value(f.name) else {
                guard let absent = f.absent else { throw error(f.name, "missing") }
                return absent
            }
            if f.type == .string { return .string(try string(f.name)) }
            if case .number(let n) = v, let magnitude = n.magnitude, let bits = f.integer(negative: n.negative, magnitude: magnitude) {
                return .integer(bits)
            }
            throw error(f.name, "expected \(f.expected), got \(v.summary(in: source))")
        }
    }

    static func describe<T: FixedWidthInteger>(_: T.Type) -> String {
        "\(T.isSigned ? "a signed" : "an unsigned") \(T.bitWidth)-bit integer"
    }

    /// An fd: a non-negative 32-bit integer.
    func fd(_ v: JSONValue, field: String) throws -> Int {
        if case .number(let n) = v, let value = n.value(as: Int32.self), value >= 0 { return Int(value) }
        throw error(field, "expected an fd (a non-negative 32-bit integer), got \(v.summary(in: source))")
    }

    func string(_ name: String, default fallback: String? = nil) throws -> String {
        try field(name, fallback) { v in
            guard case .string(let s) = v else { throw error(name, "expected a string, got \(v.summary(in: source))") }
            guard let text = source.text(of: s) else { throw error(name, "invalid UTF-8") }
            return text
        }
    }

    func bool(_ name: String, default fallback: Bool) throws -> Bool {
        try field(name, fallback) { v in
            guard case .bool(let b) = v else { throw error(name, "expected true or false, got \(v.summary(in: source))") }
            return b
        }
    }

    /// A nested object's fields; `nil` when absent.
    func optionalObject(_ name: String) throws -> JSONFields? {
        switch value(name) {
        case nil: return nil
        case .object(let members): return JSONFields(source: source, members: members, path: path + name + ".")
        case let v?: throw error(name, "expected an object, got \(v.summary(in: source))")
        }
    }

    func object(_ name: String) throws -> JSONFields {
        guard let object = try optionalObject(name) else { throw error(name, "missing") }
        return object
    }

    /// An array field's elements, each converted by `element` (given its field path); empty when absent.
    func array<T>(_ name: String, _ element: (JSONValue, String) throws -> T) throws -> [T] {
        switch value(name) {
        case nil: return []
        case .array(let values):
            return try values.enumerated().map { try element($1, "\(name)[\($0)]") }
        case let v?:
            throw error(name, "expected an array, got \(v.summary(in: source))")
        }
    }

    /// A hex string field's bytes.
    func hex(_ name: String) throws -> [UInt8] {
        let v = try required(name)
        guard case .string(let s) = v else { throw error(name, "expected a hex string, got \(v.summary(in: source))") }
        return try source.withContent(of: s) { digits in
            guard digits.count % 2 == 0 else { throw error(name, "odd-length hex (\(digits.count) digits)") }
            let out = [UInt8](unsafeUninitializedCapacity: digits.count / 2) { buf, initialized in
                if let src = digits.baseAddress, let dst = buf.baseAddress,
                   HexDigits.decode(src, into: dst, count: digits.count / 2) {
                    initialized = digits.count / 2
                }
            }
            guard out.count == digits.count / 2 else { throw error(name, "non-hex character") }
            return out
        }
    }
}

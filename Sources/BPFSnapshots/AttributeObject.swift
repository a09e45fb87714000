import BPFModel

/// A stored attribute text (`handler_states.attributes`, one JSON object) parsed for reading
/// back. `JSONDecoder` costs tens of microseconds per small object, which made decoding the
/// attributes most of the time a restore of 10,000 handlers spent reading the history; this
/// reads the same JSON in about a microsecond. Numbers must be integers (every stored field is);
/// anything that is not JSON throws `DecodingError`, as `JSONDecoder` did.
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
        var parser = Parser(bytes: Array(text.utf8))
        return try parser.document()
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

    /// A recursive-descent JSON reader over the text's bytes.
    private struct Parser {
        let bytes: [UInt8]
        var pos = 0
        static let maximumDepth = 32

        mutating func document() throws -> Value {
            let value = try self.value(depth: 0)
            skipWhitespace()
            guard pos == bytes.count else { throw fail("text after the value") }
            return value
        }

        private func fail(_ what: String) -> DecodingError { AttributeObject.corrupt("\(what) at byte \(pos)") }

        private mutating func skipWhitespace() {
            while pos < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[pos]) { pos += 1 }
        }

        private mutating func consume(_ byte: UInt8) -> Bool {
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == byte else { return false }
            pos += 1
            return true
        }

        private mutating func literal(_ word: String, _ value: Value) throws -> Value {
            let word = Array(word.utf8)
            guard bytes.count - pos >= word.count, bytes[pos ..< pos + word.count].elementsEqual(word) else { throw fail("invalid literal") }
            pos += word.count
            return value
        }

        private mutating func value(depth: Int) throws -> Value {
            guard depth < Self.maximumDepth else { throw fail("nesting too deep") }
            skipWhitespace()
            guard pos < bytes.count else { throw fail("missing value") }
            switch bytes[pos] {
            case UInt8(ascii: "{"):
                pos += 1
                var members: [String: Value] = [:]
                if consume(UInt8(ascii: "}")) { return .object(members) }
                repeat {
                    skipWhitespace()
                    let key = try string()
                    guard consume(UInt8(ascii: ":")) else { throw fail("expected ':'") }
                    members[key] = try value(depth: depth + 1)
                } while consume(UInt8(ascii: ","))
                guard consume(UInt8(ascii: "}")) else { throw fail("expected '}'") }
                return .object(members)
            case UInt8(ascii: "["):
                pos += 1
                var items: [Value] = []
                if consume(UInt8(ascii: "]")) { return .array(items) }
                repeat { items.append(try value(depth: depth + 1)) } while consume(UInt8(ascii: ","))
                guard consume(UInt8(ascii: "]")) else { throw fail("expected ']'") }
                return .array(items)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            default: return try integer()
            }
        }

        private mutating func integer() throws -> Value {
            let negative = bytes[pos] == UInt8(ascii: "-")
            if negative { pos += 1 }
            var magnitude: UInt64 = 0, digits = 0
            while pos < bytes.count, (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(bytes[pos]) {
                let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(UInt64(bytes[pos] - UInt8(ascii: "0")))
                guard !o1, !o2 else { throw fail("integer out of range") }
                magnitude = sum
                digits += 1
                pos += 1
            }
            guard digits > 0 else { throw fail("expected a value") }
            if pos < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[pos]) {
                throw fail("non-integer number")
            }
            return .integer(negative: negative, magnitude: magnitude)
        }

        private mutating func string() throws -> String {
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw fail("expected a string") }
            pos += 1
            // Most strings have no escapes: taken as they stand. The text came from a Swift
            // `String`, so its bytes are valid UTF-8, and so is every escape resolved below.
            let start = pos
            while pos < bytes.count, bytes[pos] != UInt8(ascii: "\""), bytes[pos] != UInt8(ascii: "\\"), bytes[pos] >= 0x20 { pos += 1 }
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") {
                pos += 1
                return String(decoding: bytes[start ..< pos - 1], as: UTF8.self)
            }
            var out = Array(bytes[start ..< pos])
            while true {
                guard pos < bytes.count else { throw fail("unterminated string") }
                let byte = bytes[pos]
                pos += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard pos < bytes.count else { throw fail("unterminated escape") }
                    let escape = bytes[pos]
                    pos += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0c)
                    case UInt8(ascii: "n"): out.append(0x0a)
                    case UInt8(ascii: "r"): out.append(0x0d)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"): out += try unicodeEscape()
                    default: throw fail("invalid escape")
                    }
                case 0 ..< 0x20: throw fail("control character in a string")
                default: out.append(byte)
                }
            }
        }

        /// The UTF-8 of a `\uXXXX` escape (the `\u` read), joining a surrogate pair.
        private mutating func unicodeEscape() throws -> [UInt8] {
            var scalar = try hex4()
            if (0xd800 ..< 0xdc00).contains(scalar) {
                guard bytes.count - pos >= 2, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                    throw fail("unpaired surrogate")
                }
                pos += 2
                let low = try hex4()
                guard (0xdc00 ..< 0xe000).contains(low) else { throw fail("unpaired surrogate") }
                scalar = 0x10000 + ((scalar - 0xd800) << 10) + (low - 0xdc00)
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw fail("unpaired surrogate") }
            return Array(String(Character(unicode)).utf8)
        }

        private mutating func hex4() throws -> UInt32 {
            guard bytes.count - pos >= 4 else { throw fail("invalid \\u escape") }
            var value: UInt32 = 0
            for byte in bytes[pos ..< pos + 4] {
                guard let digit = Character(Unicode.Scalar(byte)).hexDigitValue else { throw fail("invalid \\u escape") }
                value = value << 4 | UInt32(digit)
            }
            pos += 4
            return value
        }
    }
}

/// Text that is not JSON: where (1-based line, and column in bytes) and what is wrong.
public struct JSONSyntaxError: Error, CustomStringConvertible, Sendable {
    public var line: Int
    public var column: Int
    public var message: String

    public var description: String { "line \(line) column \(column): \(message)" }
}

/// The input document's bytes. Tokens refer back into it by offset, so reading a document
/// allocates nothing per string or number until a field's value is actually needed.
///
/// The project's one JSON reader: bpftime's documents (BPFInterchange) and the history's stored
/// attributes (BPFSnapshots) are both read by `JSONScanner` over a source.
public struct JSONSource {
    public let base: UnsafePointer<UInt8>
    public let count: Int

    @usableFromInline init(base: UnsafePointer<UInt8>, count: Int) {
        self.base = base
        self.count = count
    }

    /// `body` gets a source over `bytes`; empty input gets a one-byte dummy buffer of length 0.
    public static func with<R>(_ bytes: UnsafeRawBufferPointer, _ body: (JSONSource) throws -> R) rethrows -> R {
        guard let start = bytes.baseAddress, bytes.count > 0 else {
            var dummy: UInt8 = 0
            return try withUnsafePointer(to: &dummy) { try body(JSONSource(base: $0, count: 0)) }
        }
        return try body(JSONSource(base: start.assumingMemoryBound(to: UInt8.self), count: bytes.count))
    }

    /// The 1-based line and column (in bytes) of `offset`, for syntax errors.
    public func position(of offset: Int) -> (line: Int, column: Int) {
        var line = 1, lineStart = 0
        for i in 0..<min(offset, count) where base[i] == UInt8(ascii: "\n") {
            line += 1
            lineStart = i + 1
        }
        return (line, offset - lineStart + 1)
    }

    public func syntaxError(_ message: String, at offset: Int) -> JSONSyntaxError {
        let (line, column) = position(of: offset)
        return JSONSyntaxError(line: line, column: column, message: message)
    }

    /// A string's content with escapes resolved, as raw (not yet UTF-8-validated) bytes.
    @inlinable public func bytes(of s: JSONString) -> [UInt8] {
        let raw = UnsafeBufferPointer(start: base + s.start, count: s.end - s.start)
        return s.hasEscapes ? JSONEscapes.unescape(raw) : Array(raw)
    }

    /// Calls `body` with a string's content: in place when it has no escapes (the common case).
    @inlinable @inline(__always) public func withContent<R>(of s: JSONString, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        if s.hasEscapes {
            return try bytes(of: s).withUnsafeBufferPointer(body)
        }
        return try body(UnsafeBufferPointer(start: base + s.start, count: s.end - s.start))
    }

    @inlinable public func equals(_ s: JSONString, _ name: String) -> Bool {
        withContent(of: s) { $0.elementsEqual(name.utf8) }
    }

    /// The string as Swift text; `nil` when it is not valid UTF-8 (or pairs surrogates wrongly).
    public func text(of s: JSONString) -> String? {
        withContent(of: s) { String(validating: $0, as: UTF8.self) }
    }

    /// The number's text as written, for messages.
    public func text(of n: JSONNumber) -> String {
        String(decoding: UnsafeBufferPointer(start: base + n.start, count: n.end - n.start), as: UTF8.self)
    }
}

/// A string token: the content between the quotes.
public struct JSONString {
    public var start: Int
    public var end: Int
    public var hasEscapes: Bool
    public var length: Int { end - start }

    @usableFromInline init(start: Int, end: Int, hasEscapes: Bool) {
        self.start = start
        self.end = end
        self.hasEscapes = hasEscapes
    }
}

/// A number token, with its value when it is an integer that fits 64 bits of magnitude.
public struct JSONNumber {
    public var start: Int
    public var end: Int
    public var negative: Bool
    /// `nil` for fractions, exponents, and magnitudes beyond `UInt64.max`.
    public var magnitude: UInt64?

    /// The value as `T`, or `nil` when it is not an integer in `T`'s range.
    public func value<T: FixedWidthInteger>(as: T.Type) -> T? {
        guard let magnitude else { return nil }
        if !negative { return T(exactly: magnitude) }
        guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
        return T(exactly: magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude))
    }
}

/// A pull scanner over a document: tokens, and containers walked member by member.
///
/// Objects and arrays are walked with `nextMember` / `nextElement` and a `first` flag the caller
/// keeps, so the generic parser, the skipper and the map-data reader share one grammar.
public struct JSONScanner {
    public let source: JSONSource
    public var pos = 0
    /// Deeper nesting than this is refused rather than risking the stack.
    public static let maxDepth = 64

    public init(_ source: JSONSource, at pos: Int = 0) {
        self.source = source
        self.pos = pos
    }

    /// A document's start: skips a UTF-8 byte order mark, as nlohmann does.
    public static func document(_ source: JSONSource) -> JSONScanner {
        let bom = source.count >= 3 && source.base[0] == 0xef && source.base[1] == 0xbb && source.base[2] == 0xbf
        return JSONScanner(source, at: bom ? 3 : 0)
    }

    @inlinable public var atEnd: Bool { pos >= source.count }

    /// The current byte, or 0 at the end (0 is never valid JSON, so every check fails there).
    @inlinable @inline(__always) public func peek() -> UInt8 { pos < source.count ? source.base[pos] : 0 }

    @inlinable @inline(__always) public mutating func skipWhitespace() {
        while pos < source.count {
            switch source.base[pos] {
            case 0x20, 0x0a, 0x0d, 0x09: pos += 1
            default: return
            }
        }
    }

    public func error(_ message: String) -> JSONSyntaxError { source.syntaxError(message, at: pos) }

    /// "unexpected end of input", or the unexpected character and what was wanted instead.
    public func unexpected(_ wanted: String) -> JSONSyntaxError {
        if atEnd { return error("unexpected end of input") }
        let c = peek()
        let shown = c >= 0x20 && c < 0x7f ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(String(c, radix: 16))"
        return error("unexpected \(shown), expected \(wanted)")
    }

    /// Fails unless only whitespace remains.
    public mutating func expectEnd() throws {
        skipWhitespace()
        guard atEnd else { throw unexpected("end of document") }
    }

    // MARK: Containers

    /// Consumes `open` (`{` or `[`), refusing nesting beyond `maxDepth`.
    @inlinable @inline(__always) public mutating func enter(_ open: UInt8, depth: Int) throws {
        skipWhitespace()
        guard peek() == open else { throw unexpected(open == UInt8(ascii: "{") ? "an object" : "an array") }
        guard depth < Self.maxDepth else { throw error("nesting deeper than \(Self.maxDepth) levels") }
        pos += 1
    }

    /// The next member's key, with the scanner left at its value; `nil` after the closing `}`.
    @inlinable @inline(__always) public mutating func nextMember(_ first: inout Bool) throws -> JSONString? {
        guard try advance(&first, close: UInt8(ascii: "}")) else { return nil }
        let key = try scanString(wanted: "a member name")
        skipWhitespace()
        guard peek() == UInt8(ascii: ":") else { throw unexpected("':'") }
        pos += 1
        skipWhitespace()
        return key
    }

    /// Whether another element follows (scanner left at it); `false` after the closing `]`.
    @inlinable @inline(__always) public mutating func nextElement(_ first: inout Bool) throws -> Bool {
        let more = try advance(&first, close: UInt8(ascii: "]"))
        if more { skipWhitespace() }
        return more
    }

    @inlinable @inline(__always) mutating func advance(_ first: inout Bool, close: UInt8) throws -> Bool {
        skipWhitespace()
        if peek() == close {
            // Right after the open or a value; `[1,]` fails in the caller, which wants a value.
            pos += 1
            return false
        }
        if first {
            first = false
        } else {
            guard peek() == UInt8(ascii: ",") else { throw unexpected("',' or '\(Character(Unicode.Scalar(close)))'") }
            pos += 1
            skipWhitespace()
        }
        return true
    }

    // MARK: Scalars

    /// A string token; validates escapes and refuses raw control characters.
    @inlinable @inline(__always) public mutating func scanString(wanted: String = "a string") throws -> JSONString {
        guard peek() == UInt8(ascii: "\"") else { throw unexpected(wanted) }
        pos += 1
        let start = pos
        var escaped = false
        let base = source.base, count = source.count
        while true {
            // The fast path: plain bytes up to the closing quote.
            while pos < count, base[pos] != UInt8(ascii: "\""), base[pos] != UInt8(ascii: "\\"), base[pos] >= 0x20 {
                pos += 1
            }
            guard pos < count else { throw error("unexpected end of input") }
            let c = base[pos]
            if c == UInt8(ascii: "\"") { break }
            if c < 0x20 { throw error("control character 0x\(String(c, radix: 16)) in a string (must be escaped)") }
            escaped = true
            pos += 1
            switch peek() {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                 UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                pos += 1
            case UInt8(ascii: "u"):
                pos += 1
                for _ in 0..<4 {
                    guard HexDigits.value(peek()) != nil else { throw unexpected("a hex digit of a \\u escape") }
                    pos += 1
                }
            default:
                throw unexpected("an escape character")
            }
        }
        let token = JSONString(start: start, end: pos, hasEscapes: escaped)
        pos += 1
        return token
    }

    /// A number token, per JSON's grammar.
    public mutating func scanNumber() throws -> JSONNumber {
        let start = pos
        let negative = peek() == UInt8(ascii: "-")
        if negative { pos += 1 }
        var magnitude: UInt64? = 0
        guard isDigit(peek()) else { throw unexpected("a value") }
        if peek() == UInt8(ascii: "0") {
            pos += 1
        } else {
            while isDigit(peek()) {
                let (times10, o1) = (magnitude ?? 0).multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(UInt64(peek() - UInt8(ascii: "0")))
                if magnitude != nil { magnitude = o1 || o2 ? nil : sum }
                pos += 1
            }
        }
        if peek() == UInt8(ascii: ".") {
            pos += 1
            magnitude = nil
            guard isDigit(peek()) else { throw unexpected("a digit after '.'") }
            while isDigit(peek()) { pos += 1 }
        }
        if peek() | 0x20 == UInt8(ascii: "e") {
            pos += 1
            magnitude = nil
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { pos += 1 }
            guard isDigit(peek()) else { throw unexpected("a digit of an exponent") }
            while isDigit(peek()) { pos += 1 }
        }
        return JSONNumber(start: start, end: pos, negative: negative, magnitude: magnitude)
    }

    /// Consumes `true`, `false` or `null`, which the input should continue with.
    public mutating func scanLiteral(_ word: StaticString) throws {
        for i in 0..<word.utf8CodeUnitCount {
            guard peek() == word.utf8Start[i] else { throw unexpected("\(word)") }
            pos += 1
        }
    }

    private func isDigit(_ c: UInt8) -> Bool { c &- UInt8(ascii: "0") < 10 }
}

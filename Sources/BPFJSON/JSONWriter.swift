/// The project's one JSON writer: bpftime's documents laid out exactly as nlohmann's `dump(4)`
/// (one member or element per line, 4-space indentation, `": "` after keys, `{}` / `[]` for empty
/// containers, no final newline), and `JSONText` indented by 2 or compact (no white space at all).
/// Callers emit object members in the order they want (bpftime's: sorted by key).
///
/// Output collects in a buffer handed to `sink` in chunks, so big documents stream.
public struct JSONWriter {
    public let out: OutputBuffer
    @usableFromInline let sink: ((UnsafeRawBufferPointer) throws -> Void)?
    /// Spaces per level; `nil` writes compactly: no newlines, no space after keys.
    @usableFromInline let indent: Int?
    @usableFromInline var depth = 0
    /// Per open container: whether it has an item yet (decides `,` and the closing line).
    @usableFromInline var hasItems: [Bool] = []

    public static let chunkSize = 1 << 18

    /// `sink == nil` keeps everything in `out` (which starts small: a stored attribute text is
    /// written per handler saved).
    public init(indent: Int? = 4, sink: ((UnsafeRawBufferPointer) throws -> Void)?) {
        self.indent = indent
        self.sink = sink
        out = OutputBuffer(capacity: sink == nil ? 1 << 10 : Self.chunkSize + 4096)
    }

    /// Hands a full chunk to the sink; call between items.
    @inlinable @inline(__always) public mutating func flushIfFull() throws {
        if out.count >= Self.chunkSize { try flush() }
    }

    public mutating func flush() throws {
        guard let sink, out.count > 0 else { return }
        try sink(out.contents)
        out.removeAll()
    }

    @inlinable @inline(__always) public mutating func open(_ bracket: UInt8) {
        out.byte(bracket)
        depth += 1
        hasItems.append(false)
    }

    @inlinable @inline(__always) public mutating func close(_ bracket: UInt8) {
        depth -= 1
        if hasItems.removeLast() { newline() }
        out.byte(bracket)
    }

    @inlinable public mutating func openObject() { open(UInt8(ascii: "{")) }
    @inlinable public mutating func closeObject() { close(UInt8(ascii: "}")) }
    @inlinable public mutating func openArray() { open(UInt8(ascii: "[")) }
    @inlinable public mutating func closeArray() { close(UInt8(ascii: "]")) }

    /// Starts the next element of the open container.
    @inlinable @inline(__always) public mutating func item() {
        if hasItems[hasItems.count - 1] { out.byte(UInt8(ascii: ",")) }
        hasItems[hasItems.count - 1] = true
        newline()
    }

    @inlinable @inline(__always) func newline() {
        guard let indent else { return }
        out.byte(UInt8(ascii: "\n"))
        out.spaces(indent * depth)
    }

    /// After a key: `": "`, or `":"` when compact.
    @inlinable @inline(__always) func colon() {
        indent == nil ? out.byte(UInt8(ascii: ":")) : out.bytes(": ")
    }

    public mutating func key(_ name: StaticString) {
        item()
        out.byte(UInt8(ascii: "\""))
        out.bytes(name)
        out.byte(UInt8(ascii: "\""))
        colon()
    }

    /// A member named at run time (a field table's names).
    public mutating func key(field name: String) {
        item()
        string(name)
        colon()
    }

    /// A member named by a decimal number (the document's fds).
    public mutating func key(decimal: Int) {
        item()
        out.byte(UInt8(ascii: "\""))
        out.decimal(decimal)
        out.byte(UInt8(ascii: "\""))
        colon()
    }

    /// A member named by bytes in hex (map keys).
    @inlinable @inline(__always) public mutating func key(hex: UnsafePointer<UInt8>, count: Int) {
        item()
        hexString(hex, count: count)
        colon()
    }

    @inlinable @inline(__always) public func integer<T: BinaryInteger>(_ v: T) { out.decimal(v) }
    public func double(_ v: Double) { out.bytes(String(v)) }
    public func bool(_ b: Bool) { b ? out.bytes("true") : out.bytes("false") }
    public func null() { out.bytes("null") }
    public func string(_ s: String) {
        out.byte(UInt8(ascii: "\""))
        JSONEscapes.escape(s) { out.bytes($0) }
        out.byte(UInt8(ascii: "\""))
    }

    @inlinable @inline(__always) public func hexString(_ bytes: UnsafePointer<UInt8>, count: Int) {
        out.byte(UInt8(ascii: "\""))
        out.hex(bytes, count: count)
        out.byte(UInt8(ascii: "\""))
    }

    public func hexString(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { buf in
            if let base = buf.baseAddress { hexString(base, count: buf.count) } else { out.bytes("\"\"") }
        }
    }

    /// A whole value.
    public mutating func value(_ value: JSONText) {
        switch value {
        case .string(let s): string(s)
        case .int(let v): integer(v)
        case .uint(let v): integer(v)
        case .double(let v): double(v)
        case .bool(let b): bool(b)
        case .null: null()
        case .array(let items):
            openArray()
            for item in items {
                self.item()
                self.value(item)
            }
            closeArray()
        case .object(let members):
            openObject()
            for (name, member) in members {
                key(field: name)
                self.value(member)
            }
            closeObject()
        }
    }
}

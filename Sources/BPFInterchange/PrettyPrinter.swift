import BPFJSON

/// Writes JSON laid out exactly as nlohmann's `dump(4)`: one member or element per line,
/// 4-space indentation, `": "` after keys, `{}` / `[]` for empty containers, no final newline.
/// Callers emit object members in sorted key order themselves.
///
/// Output collects in a buffer handed to `sink` in chunks, so big documents stream.
struct PrettyPrinter {
    let out = OutputBuffer(capacity: PrettyPrinter.chunkSize + 4096)
    private let sink: ((UnsafeRawBufferPointer) throws -> Void)?
    private var depth = 0
    /// Per open container: whether it has an item yet (decides `,` and the closing line).
    private var hasItems: [Bool] = []

    static let chunkSize = 1 << 18

    /// `sink == nil` keeps everything in `out`.
    init(sink: ((UnsafeRawBufferPointer) throws -> Void)?) {
        self.sink = sink
    }

    /// Hands a full chunk to the sink; call between items.
    mutating func flushIfFull() throws {
        if out.count >= Self.chunkSize { try flush() }
    }

    mutating func flush() throws {
        guard let sink, out.count > 0 else { return }
        try sink(out.contents)
        out.removeAll()
    }

    mutating func open(_ bracket: UInt8) {
        out.byte(bracket)
        depth += 1
        hasItems.append(false)
    }

    mutating func close(_ bracket: UInt8) {
        depth -= 1
        if hasItems.removeLast() { newline() }
        out.byte(bracket)
    }

    mutating func openObject() { open(UInt8(ascii: "{")) }
    mutating func closeObject() { close(UInt8(ascii: "}")) }
    mutating func openArray() { open(UInt8(ascii: "[")) }
    mutating func closeArray() { close(UInt8(ascii: "]")) }

    /// Starts the next element of the open container.
    @inline(__always) mutating func item() {
        if hasItems[hasItems.count - 1] { out.byte(UInt8(ascii: ",")) }
        hasItems[hasItems.count - 1] = true
        newline()
    }

    @inline(__always) private func newline() {
        out.byte(UInt8(ascii: "\n"))
        out.spaces(4 * depth)
    }

    mutating func key(_ name: StaticString) {
        item()
        out.byte(UInt8(ascii: "\""))
        out.bytes(name)
        out.bytes("\": ")
    }

    /// A member named at run time (a field table's names).
    mutating func key(field name: String) {
        item()
        string(name)
        out.bytes(": ")
    }

    /// A member named by a decimal number (the document's fds).
    mutating func key(decimal: Int) {
        item()
        out.byte(UInt8(ascii: "\""))
        out.decimal(decimal)
        out.bytes("\": ")
    }

    /// A member named by bytes in hex (map keys).
    @inline(__always) mutating func key(hex: UnsafePointer<UInt8>, count: Int) {
        item()
        hexString(hex, count: count)
        out.bytes(": ")
    }

    func integer<T: BinaryInteger>(_ v: T) { out.decimal(v) }
    func bool(_ b: Bool) { b ? out.bytes("true") : out.bytes("false") }
    func string(_ s: String) {
        out.byte(UInt8(ascii: "\""))
        JSONEscapes.escape(s) { out.bytes($0) }
        out.byte(UInt8(ascii: "\""))
    }

    @inline(__always) func hexString(_ bytes: UnsafePointer<UInt8>, count: Int) {
        out.byte(UInt8(ascii: "\""))
        out.hex(bytes, count: count)
        out.byte(UInt8(ascii: "\""))
    }

    func hexString(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { buf in
            if let base = buf.baseAddress { hexString(base, count: buf.count) } else { out.bytes("\"\"") }
        }
    }
}

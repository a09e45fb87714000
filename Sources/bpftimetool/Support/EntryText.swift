import ArgumentParser
import BPFModel
import BPFSegment

/// How `map` verbs read keys and values: hex bytes as stored (`2a000000`, `2a 00 00 00`,
/// `0x2a000000`), or with `--int` integers (`42`, `0x2a`, `-1`) stored little-endian in the
/// map's key or value size; a per-CPU map then gets the value on every CPU.
struct EntryText: ParsableArguments {
    @Flag(name: .customLong("int"), help: "Keys and values are integers (decimal or 0x hex, may be negative), little-endian in the map's sizes.")
    var integers = false

    func key(_ text: String, of map: SegmentMap) throws -> [UInt8] { try bytes(text, size: map.keySize, copies: 1, what: "key") }

    /// A value for `update` (every CPU's for per-CPU maps) or, with `oneCPU`, for `push`.
    func value(_ text: String, of map: SegmentMap, oneCPU: Bool = false) throws -> [UInt8] {
        try bytes(text, size: map.valueSize, copies: oneCPU ? 1 : map.valuesPerEntry, what: "value")
    }

    private func bytes(_ text: String, size: Int, copies: Int, what: String) throws -> [UInt8] {
        guard integers else { return try Self.hex(text, expected: size * copies, what: what) }
        guard let one = Self.littleEndian(text, size: size) else {
            throw ToolError("\(what) \(text): not an integer that fits \(size) bytes (--int takes sizes of 1 to 8 bytes; give hex bytes otherwise)")
        }
        return Array([[UInt8]](repeating: one, count: copies).joined())
    }

    /// `text` (decimal or 0x hex, may be negative) as a little-endian integer of `size` bytes
    /// (1 to 8); nil when it is not one or does not fit.
    static func littleEndian(_ text: String, size: Int) -> [UInt8]? {
        let negative = text.hasPrefix("-")
        let digits = negative ? text.dropFirst() : Substring(text)
        let magnitude = digits.lowercased().hasPrefix("0x") ? UInt64(digits.dropFirst(2), radix: 16) : UInt64(digits)
        guard let magnitude, size > 0, size <= 8 else { return nil }
        let bits = UInt64(size * 8)
        guard negative ? magnitude <= 1 << (bits - 1) : bits == 64 || magnitude < 1 << bits else { return nil }
        let value = negative ? 0 &- magnitude : magnitude
        return (0 ..< size).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
    }

    /// Hex bytes as stored, with or without spaces between them (bpftool's `01 00 00 00`).
    static func hex(_ text: String, expected: Int, what: String) throws -> [UInt8] {
        let compact = text.filter { !$0.isWhitespace }
        let digits = compact.hasPrefix("0x") ? String(compact.dropFirst(2)) : compact
        guard let bytes = Hex.decode(digits) else { throw ToolError("\(what) \(text): not hex (two digits per byte); --int reads integers") }
        guard bytes.count == expected else { throw ToolError("\(what) \(text): \(bytes.count) bytes, the map takes \(expected)") }
        return bytes
    }
}

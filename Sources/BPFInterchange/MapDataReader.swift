import BPFJSON
import BPFModel

/// Reads a map's `"data"` member straight into `MapContents`' flat buffers: hex is decoded
/// from the input bytes into place, with no per-entry strings or objects.
struct MapDataReader {
    private var scanner: JSONScanner
    private let keySize: Int
    private let valueSize: Int
    private let maxEntries: Int
    /// Length of the data's text: a bound on what it can decode to.
    private let textLength: Int

    /// Reads the value at `from..<to` (already syntax-checked) for a map with `attributes`;
    /// `nil` for `null`. The expected shape follows the map type (see `BPFTimeJSON`).
    static func read(_ source: JSONSource, from: Int, to: Int, attributes: MapAttributes) throws -> MapContents? {
        var reader = MapDataReader(scanner: JSONScanner(source, at: from), keySize: Int(attributes.keySize),
                                   valueSize: Int(attributes.valueSize), maxEntries: Int(attributes.maxEntries),
                                   textLength: to - from)
        if reader.scanner.peek() == UInt8(ascii: "n") { return nil }
        // Each entry's text holds at least its hex digits and four quotes: size the buffers once.
        let entries = min(reader.maxEntries, (to - from) / (2 * (reader.keySize + reader.valueSize) + 4) + 1)
        let kind = attributes.kind
        if kind?.isSequence == true { return try reader.readSequence(capacity: entries) }
        return try reader.readKeyed(capacity: entries, perCPU: kind?.isPerCPU == true)
    }

    /// Queue and stack: `["<value>", ...]`, oldest first.
    private mutating func readSequence(capacity: Int) throws -> MapContents {
        try expectOpen(UInt8(ascii: "["), "an array of hex values (queue/stack map)")
        let values = buffer(entries: capacity, of: valueSize)
        var count = 0, first = true
        while try scanner.nextElement(&first) {
            try checkRoom(count)
            try readHex(into: values, size: valueSize, what: "value", sizeName: "value_size", at: .element(count))
            count += 1
        }
        return MapContents(keySize: 0, valueSize: valueSize, keys: [], values: values.toArray())
    }

    /// `{"<key>": "<value>", ...}`, or `{"<key>": ["<cpu0 value>", ...], ...}` for per-CPU maps.
    private mutating func readKeyed(capacity: Int, perCPU: Bool) throws -> MapContents {
        try expectOpen(UInt8(ascii: "{"), perCPU ? "an object of hex keys to arrays of per-CPU hex values"
                                                 : "an object of hex keys to hex values")
        let keys = buffer(entries: capacity, of: keySize)
        let values = buffer(entries: capacity, of: valueSize)
        var count = 0, first = true, sorted = true
        var cpus: Int? = nil
        while let key = try scanner.nextMember(&first) {
            try checkRoom(count)
            try decodeHex(key, into: keys, size: keySize, what: "key", sizeName: "key_size", at: .entry(key))
            if count > 0 {
                let order = KeyOrder.compare(keys.start, count - 1, count, keySize)
                if order == 0 { throw InterchangeError(field: name(.entry(key)), "duplicate key") }
                if order > 0 { sorted = false }
            }
            if perCPU {
                guard scanner.peek() == UInt8(ascii: "[") else {
                    throw InterchangeError(field: name(.entry(key)), "expected an array of per-CPU hex values")
                }
                try scanner.enter(UInt8(ascii: "["), depth: 0)
                var n = 0, firstCPU = true
                while try scanner.nextElement(&firstCPU) {
                    try readHex(into: values, size: valueSize, what: "value", sizeName: "value_size", at: .cpu(key, n))
                    n += 1
                }
                if let cpus, n != cpus {
                    throw InterchangeError(field: name(.entry(key)), "\(n) per-CPU values, but earlier entries have \(cpus)")
                }
                if n == 0 { throw InterchangeError(field: name(.entry(key)), "empty per-CPU value list") }
                cpus = n
            } else {
                try readHex(into: values, size: valueSize, what: "value", sizeName: "value_size", at: .entry(key))
            }
            count += 1
        }
        if !sorted { try checkDistinct(keys, count: count) }
        return MapContents(keySize: keySize, valueSize: valueSize, valuesPerEntry: cpus ?? 1,
                           keys: keys.toArray(), values: values.toArray())
    }

    /// A buffer for `entries` items of `size` bytes, never beyond what the text can decode to
    /// (whatever sizes the attributes claim).
    private func buffer(entries: Int, of size: Int) -> OutputBuffer {
        OutputBuffer(capacity: min(entries * size, textLength / 2))
    }

    /// Enters the data's outer container, which must be `bracket`.
    private mutating func expectOpen(_ bracket: UInt8, _ wanted: String) throws {
        guard scanner.peek() == bracket else {
            throw InterchangeError(field: "data", "expected \(wanted), got \(Self.describe(scanner.peek()))")
        }
        try scanner.enter(bracket, depth: 0)
    }

    private mutating func checkRoom(_ count: Int) throws {
        guard count < maxEntries else {
            throw InterchangeError(field: "data", "more entries than max_entries (\(maxEntries))")
        }
    }

    private mutating func readHex(into buffer: OutputBuffer, size: Int, what: String, sizeName: String,
                                  at location: Location) throws {
        guard scanner.peek() == UInt8(ascii: "\"") else {
            throw InterchangeError(field: name(location), "expected a hex \(what), got \(Self.describe(scanner.peek()))")
        }
        let s = try scanner.scanString()
        try decodeHex(s, into: buffer, size: size, what: what, sizeName: sizeName, at: location)
    }

    private func decodeHex(_ s: JSONString, into buffer: OutputBuffer, size: Int, what: String, sizeName: String,
                           at location: Location) throws {
        try scanner.source.withContent(of: s) { digits in
            guard digits.count == 2 * size else {
                let problem = digits.count % 2 == 1 ? "odd-length hex" : "\(what) is \(digits.count / 2) bytes"
                throw InterchangeError(field: name(location), "\(problem), \(sizeName) is \(size)")
            }
            guard size > 0, let src = digits.baseAddress else { return }
            guard HexDigits.decode(src, into: buffer.reserve(size), count: size) else {
                throw InterchangeError(field: name(location), "non-hex character in \(what)")
            }
            buffer.didWrite(size)
        }
    }

    /// Keys arrived out of order (not our writer's output): sort to find duplicates.
    private func checkDistinct(_ keys: OutputBuffer, count: Int) throws {
        let order = KeyOrder.sorted(keys: keys.start, keySize: keySize, count: count)
        for (a, b) in zip(order, order.dropFirst()) where KeyOrder.compare(keys.start, a, b, keySize) == 0 {
            let hex = OutputBuffer(capacity: 2 * keySize)
            hex.hex(keys.start + b * keySize, count: keySize)
            throw InterchangeError(field: "data[\"\(String(decoding: hex.contents, as: UTF8.self))\"]", "duplicate key")
        }
    }

    /// Where in the data a problem is: an element of a queue/stack, an entry by key, one CPU's value.
    private enum Location {
        case element(Int)
        case entry(JSONString)
        case cpu(JSONString, Int)
    }

    /// The field path of `location`, built only for error messages.
    private func name(_ location: Location) -> String {
        switch location {
        case .element(let i): "data[\(i)]"
        case .entry(let key): "data[\"\(display(key))\"]"
        case .cpu(let key, let i): "data[\"\(display(key))\"][\(i)]"
        }
    }

    /// A key as shown in messages: its text, shortened.
    private func display(_ key: JSONString) -> String {
        let text = String(decoding: scanner.source.bytes(of: key).prefix(40), as: UTF8.self)
        return key.length > 40 ? text + "..." : text
    }

    private static func describe(_ c: UInt8) -> String {
        switch c {
        case UInt8(ascii: "{"): "an object"
        case UInt8(ascii: "["): "an array"
        case UInt8(ascii: "\""): "a string"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): "a boolean"
        case UInt8(ascii: "n"): "null"
        default: "a number"
        }
    }
}

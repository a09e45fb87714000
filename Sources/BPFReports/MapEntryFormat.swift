import BPFModel

/// How map keys and values are shown: hex as stored, plus the little-endian integer for
/// 1, 2, 4 and 8-byte values since most maps hold counters.
public enum MapEntryFormat {
    public static func describe(_ bytes: some Collection<UInt8>, valueSize: Int) -> String {
        guard valueSize > 0, bytes.count > valueSize else { return single(bytes) }
        let all = Array(bytes)
        return stride(from: 0, to: all.count, by: valueSize).enumerated().map { cpu, start in
            "cpu\(cpu): " + single(all[start ..< min(start + valueSize, all.count)])
        }.joined(separator: "  ")
    }

    public static func single(_ bytes: some Collection<UInt8>) -> String {
        let hex = Hex.encode(bytes)
        guard [1, 2, 4, 8].contains(bytes.count) else { return hex }
        let number = bytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return "\(hex) (\(number))"
    }

    public static func json(_ c: MapContents) -> JSONText {
        .array((0 ..< c.count).map { i in
            let values = c.value(at: i)
            let value: JSONText = c.valuesPerEntry > 1
                ? .array(stride(from: values.startIndex, to: values.endIndex, by: c.valueSize).map {
                    .string(Hex.encode(values[$0 ..< $0 + c.valueSize]))
                })
                : .string(Hex.encode(values))
            return c.keySize == 0 ? .object([("value", value)]) : .object([("key", .string(Hex.encode(c.key(at: i)))), ("value", value)])
        })
    }
}

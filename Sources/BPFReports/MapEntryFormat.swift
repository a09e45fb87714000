import BPFJSON
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
            entry(key: c.keySize == 0 ? nil : c.key(at: i), values: c.value(at: i), valueSize: c.valueSize, perCPU: c.valuesPerEntry > 1)
        })
    }

    /// One entry: `{"key": hex, "value": hex}`, the value an array of hex strings (one per CPU)
    /// when `perCPU`, no key for queue and stack values.
    public static func entry(key: (some Collection<UInt8>)?, values: some Collection<UInt8>, valueSize: Int, perCPU: Bool) -> JSONText {
        let all = Array(values)
        let value: JSONText = perCPU && valueSize > 0
            ? .array(stride(from: 0, to: all.count, by: valueSize).map { .string(Hex.encode(all[$0 ..< min($0 + valueSize, all.count)])) })
            : .string(Hex.encode(all))
        guard let key else { return .object([("value", value)]) }
        return .object([("key", .string(Hex.encode(key))), ("value", value)])
    }
}

/// String escaping as JSON defines it, written the way nlohmann::json and Foundation's
/// `JSONEncoder` both write it (the history's stored attributes were written by the latter, and
/// their text is hashed, so this must not change).
public enum JSONEscapes {
    /// Resolves the escapes of a scanned (already syntax-checked) string's content.
    /// A lone surrogate becomes 0xFF, which later fails UTF-8 validation with a clear message.
    public static func unescape(_ raw: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(raw.count)
        var i = 0
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= raw.count else { return nil }
            var v: UInt32 = 0
            for k in 0..<4 {
                guard let d = HexDigits.value(raw[at + k]) else { return nil }
                v = v << 4 | UInt32(d)
            }
            return v
        }
        while i < raw.count {
            let c = raw[i]
            guard c == UInt8(ascii: "\\"), i + 1 < raw.count else {
                out.append(c)
                i += 1
                continue
            }
            let e = raw[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0c)
            case UInt8(ascii: "n"): out.append(0x0a)
            case UInt8(ascii: "r"): out.append(0x0d)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard var scalar = hex4(i) else { out.append(0xff); continue }
                i += 4
                if (0xd800..<0xdc00).contains(scalar), i + 6 <= raw.count, raw[i] == UInt8(ascii: "\\"),
                   raw[i + 1] == UInt8(ascii: "u"), let low = hex4(i + 2), (0xdc00..<0xe000).contains(low) {
                    scalar = 0x10000 + ((scalar - 0xd800) << 10) + (low - 0xdc00)
                    i += 6
                }
                if let s = Unicode.Scalar(scalar) {
                    out.append(contentsOf: String(Character(s)).utf8)
                } else {
                    out.append(0xff)
                }
            default: out.append(e) // \" \\ \/
            }
        }
        return out
    }

    /// Calls `emit` with `text` escaped, in runs: `"` `\` and control characters as nlohmann
    /// writes them (`\b \f \n \r \t`, others `\u00xx` in lowercase), everything else (UTF-8,
    /// `/` included) as is. Without quotes.
    public static func escape(_ text: String, _ emit: (UnsafeRawBufferPointer) -> Void) {
        var text = text
        text.withUTF8 { bytes in
            var run = 0
            for (i, c) in bytes.enumerated() where c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") {
                if run < i { emit(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[run ..< i]))) }
                run = i + 1
                if let short = shortEscape(c) {
                    emit(UnsafeRawBufferPointer(start: short.utf8Start, count: short.utf8CodeUnitCount))
                } else {
                    [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                     HexDigits.lower[Int(c >> 4)], HexDigits.lower[Int(c & 0xf)]].withUnsafeBytes(emit)
                }
            }
            if run < bytes.count { emit(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[run...]))) }
        }
    }

    private static func shortEscape(_ c: UInt8) -> StaticString? {
        switch c {
        case UInt8(ascii: "\""): #"\""#
        case UInt8(ascii: "\\"): #"\\"#
        case 0x08: #"\b"#
        case 0x0c: #"\f"#
        case 0x0a: #"\n"#
        case 0x0d: #"\r"#
        case 0x09: #"\t"#
        default: nil
        }
    }

    /// `text` as a JSON string, quotes included.
    public static func quoted(_ text: String) -> String {
        var out = "\""
        escape(text) { out += String(decoding: $0, as: UTF8.self) }
        return out + "\""
    }
}

/// Hex digits both ways, on bytes (the BPFModel `Hex` helpers work on Strings).
public enum HexDigits {
    public static let lower: [UInt8] = Array("0123456789abcdef".utf8)

    /// The lowercase digit of a value below 16, from a constant table: the writer's per-byte
    /// path, inlined into other modules, where reading `lower` costs a lazy-global check per
    /// call, and computing the digit a branch that random bytes mispredict.
    @inlinable @inline(__always) public static func lowerDigit(_ v: UInt8) -> UInt8 {
        ("0123456789abcdef" as StaticString).utf8Start[Int(v & 0xf)]
    }

    /// The digit's value (either case), or `nil`.
    @inlinable public static func value(_ c: UInt8) -> UInt8? {
        let v = nibble(c)
        return v < 16 ? v : nil
    }

    /// The digit's value, or 0xff for a non-hex character: branch-light for the decode loop.
    @inlinable public static func nibble(_ c: UInt8) -> UInt8 {
        let digit = c &- UInt8(ascii: "0")
        let letter = (c | 0x20) &- UInt8(ascii: "a")
        return digit < 10 ? digit : letter < 6 ? letter &+ 10 : 0xff
    }

    /// Decodes `2 * count` hex digits at `src` into `dst`; false on a non-hex character.
    /// Not inlinable: this module's compiled loop is faster than a caller's copy of it (measured
    /// with `BPFInterchangeBench import`).
    public static func decode(_ src: UnsafePointer<UInt8>, into dst: UnsafeMutablePointer<UInt8>, count: Int) -> Bool {
        var invalid: UInt8 = 0
        for i in 0..<count {
            let high = nibble(src[2 * i]), low = nibble(src[2 * i + 1])
            invalid |= high | low
            dst[i] = high << 4 | low
        }
        return invalid < 16
    }
}

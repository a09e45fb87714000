/// String escaping as JSON defines it, written the way nlohmann::json writes it.
enum JSONEscapes {
    /// Resolves the escapes of a scanned (already syntax-checked) string's content.
    /// A lone surrogate becomes 0xFF, which later fails UTF-8 validation with a clear message.
    static func unescape(_ raw: UnsafeBufferPointer<UInt8>) -> [UInt8] {
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

    /// Appends `text` quoted: `"` `\` and control characters escaped as nlohmann does
    /// (`\b \f \n \r \t`, others `\u00xx` in lowercase), everything else (UTF-8) as is.
    static func writeQuoted(_ text: String, to out: OutputBuffer) {
        out.byte(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            for c in bytes {
                switch c {
                case UInt8(ascii: "\""): out.bytes("\\\"")
                case UInt8(ascii: "\\"): out.bytes("\\\\")
                case 0x08: out.bytes("\\b")
                case 0x0c: out.bytes("\\f")
                case 0x0a: out.bytes("\\n")
                case 0x0d: out.bytes("\\r")
                case 0x09: out.bytes("\\t")
                case 0..<0x20:
                    out.bytes("\\u00")
                    out.byte(HexDigits.lower[Int(c >> 4)])
                    out.byte(HexDigits.lower[Int(c & 0xf)])
                default: out.byte(c)
                }
            }
        }
        out.byte(UInt8(ascii: "\""))
    }
}

/// Hex digits both ways, on bytes (the BPFModel `Hex` helpers work on Strings).
enum HexDigits {
    static let lower: [UInt8] = Array("0123456789abcdef".utf8)

    /// The digit's value (either case), or `nil`.
    @inline(__always) static func value(_ c: UInt8) -> UInt8? {
        let v = nibble(c)
        return v < 16 ? v : nil
    }

    /// The digit's value, or 0xff for a non-hex character: branch-light for the decode loop.
    @inline(__always) private static func nibble(_ c: UInt8) -> UInt8 {
        let digit = c &- UInt8(ascii: "0")
        let letter = (c | 0x20) &- UInt8(ascii: "a")
        return digit < 10 ? digit : letter < 6 ? letter &+ 10 : 0xff
    }

    /// Decodes `2 * count` hex digits at `src` into `dst`; false on a non-hex character.
    @inline(__always)
    static func decode(_ src: UnsafePointer<UInt8>, into dst: UnsafeMutablePointer<UInt8>, count: Int) -> Bool {
        var invalid: UInt8 = 0
        for i in 0..<count {
            let high = nibble(src[2 * i]), low = nibble(src[2 * i + 1])
            invalid |= high | low
            dst[i] = high << 4 | low
        }
        return invalid < 16
    }
}

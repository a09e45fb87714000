import Glibc

/// `bpf_trace_printk(fmt, fmt_size, a1, a2, a3)` (6): formats like printf with
/// `%d %i %u %x %ld %li %lu %lx %lld %lli %llu %llx %p %s %c %%` (with `-`/`0` flags and a
/// width) and at most three arguments,
/// and prints on stdout as bpftime does (and, like bpftime, returns 0). A format it cannot
/// handle prints nothing and returns -EINVAL.
enum TracePrintk {
    static func register(in table: HelperTable) {
        table.register(HelperID.tracePrintk, name: "trace_printk") { f, size, a1, a2, a3, raw in
            let ctx = HelperContext(raw)
            guard size > 0, size <= 1024, let fmt = ctx.readable(f, Int(size), "trace_printk", "format") else {
                return size == 0 || size > 1024 ? Errno.result(Errno.EINVAL) : 0
            }
            let bytes = UnsafeRawBufferPointer(start: fmt, count: Int(size))
            guard let text = TracePrintk.format(Array(bytes.prefix { $0 != 0 }), [a1, a2, a3], ctx) else {
                return Errno.result(Errno.EINVAL)
            }
            if let trace = ctx.environment.trace {
                trace(text)
            } else {
                print(text, terminator: "")   // C's stdout stream, as `fputs` would write it
            }
            return 0
        }
    }

    /// The formatted text, or `nil` for an unsupported conversion, too many arguments or an
    /// unreadable `%s` string. Conversions may carry `-` and `0` flags and a width (at most 64).
    static func format(_ fmt: [UInt8], _ args: [UInt64], _ ctx: HelperContext) -> String? {
        var out: [UInt8] = []
        var next = 0
        var i = 0
        func ascii(_ c: Unicode.Scalar) -> UInt8 { UInt8(ascii: c) }
        while i < fmt.count {
            let c = fmt[i]
            i += 1
            guard c == ascii("%") else { out.append(c); continue }
            var leftAlign = false, zeroPad = false, width = 0, longs = 0
            while i < fmt.count && (fmt[i] == ascii("-") || fmt[i] == ascii("0")) {
                if fmt[i] == ascii("-") { leftAlign = true } else { zeroPad = true }
                i += 1
            }
            while i < fmt.count && fmt[i] >= ascii("0") && fmt[i] <= ascii("9") {
                width = width * 10 + Int(fmt[i] - ascii("0"))
                guard width <= 64 else { return nil }
                i += 1
            }
            while i < fmt.count && fmt[i] == ascii("l") && longs < 2 { longs += 1; i += 1 }
            guard i < fmt.count else { return nil }
            let conversion = fmt[i]
            i += 1
            if conversion == ascii("%") && longs == 0 && width == 0 { out.append(conversion); continue }
            guard next < args.count else { return nil }
            let arg = args[next]
            next += 1
            var piece: [UInt8]
            var numeric = true
            switch (conversion, longs) {
            case (ascii("d"), 0), (ascii("i"), 0): piece = Array(String(Int32(truncatingIfNeeded: arg)).utf8)
            case (ascii("d"), _), (ascii("i"), _): piece = Array(String(Int64(bitPattern: arg)).utf8)
            case (ascii("u"), 0): piece = Array(String(UInt32(truncatingIfNeeded: arg)).utf8)
            case (ascii("u"), _): piece = Array(String(arg).utf8)
            case (ascii("x"), 0): piece = Array(String(UInt32(truncatingIfNeeded: arg), radix: 16).utf8)
            case (ascii("x"), _): piece = Array(String(arg, radix: 16).utf8)
            case (ascii("p"), 0):   // glibc's printf, which bpftime uses, prints NULL as "(nil)"
                piece = Array((arg == 0 ? "(nil)" : "0x\(String(arg, radix: 16))").utf8)
                numeric = false
            case (ascii("c"), 0):
                piece = [UInt8(truncatingIfNeeded: arg)]
                numeric = false
            case (ascii("s"), 0):
                if arg == 0 {
                    piece = Array("(null)".utf8)
                } else {
                    guard let string = ctx.state.pointee.readString(at: arg, max: 4096) else { return nil }
                    piece = string
                }
                numeric = false
            default:
                return nil
            }
            let padding = max(0, width - piece.count)
            if leftAlign {
                out += piece + [UInt8](repeating: ascii(" "), count: padding)
            } else if zeroPad && numeric {
                // Zeros go after the sign.
                let sign = piece.first == ascii("-") ? 1 : 0
                out += piece[..<sign] + [UInt8](repeating: ascii("0"), count: padding) + piece[sign...]
            } else {
                out += [UInt8](repeating: ascii(" "), count: padding) + piece
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

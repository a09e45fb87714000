import Glibc

/// `bpf_trace_printk(fmt, fmt_size, a1, a2, a3)` (6): formats like printf with
/// `%d %i %u %x %ld %li %lu %lx %lld %lli %llu %llx %p %s %c %%` and at most three arguments,
/// and prints on stdout as bpftime does. Returns the bytes written, or -EINVAL for a format it
/// cannot handle (nothing is printed then).
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
                fputs(text, stdout)
            }
            return UInt64(text.utf8.count)
        }
    }

    /// The formatted text, or `nil` for an unsupported conversion, too many arguments or an
    /// unreadable `%s` string.
    static func format(_ fmt: [UInt8], _ args: [UInt64], _ ctx: HelperContext) -> String? {
        var out: [UInt8] = []
        var next = 0
        var i = 0
        while i < fmt.count {
            let c = fmt[i]
            i += 1
            guard c == UInt8(ascii: "%") else { out.append(c); continue }
            var longs = 0
            while i < fmt.count && fmt[i] == UInt8(ascii: "l") && longs < 2 { longs += 1; i += 1 }
            guard i < fmt.count else { return nil }
            let conversion = fmt[i]
            i += 1
            if conversion == UInt8(ascii: "%") && longs == 0 { out.append(conversion); continue }
            guard next < args.count else { return nil }
            let arg = args[next]
            next += 1
            switch (conversion, longs) {
            case (UInt8(ascii: "d"), 0), (UInt8(ascii: "i"), 0):
                out += Array(String(Int32(truncatingIfNeeded: arg)).utf8)
            case (UInt8(ascii: "d"), _), (UInt8(ascii: "i"), _):
                out += Array(String(Int64(bitPattern: arg)).utf8)
            case (UInt8(ascii: "u"), 0):
                out += Array(String(UInt32(truncatingIfNeeded: arg)).utf8)
            case (UInt8(ascii: "u"), _):
                out += Array(String(arg).utf8)
            case (UInt8(ascii: "x"), 0):
                out += Array(String(UInt32(truncatingIfNeeded: arg), radix: 16).utf8)
            case (UInt8(ascii: "x"), _):
                out += Array(String(arg, radix: 16).utf8)
            case (UInt8(ascii: "p"), 0):
                out += Array("0x\(String(arg, radix: 16))".utf8)
            case (UInt8(ascii: "c"), 0):
                out.append(UInt8(truncatingIfNeeded: arg))
            case (UInt8(ascii: "s"), 0):
                guard let string = ctx.state.pointee.readString(at: arg, max: 4096) else { return nil }
                out += string
            default:
                return nil
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

import BPFModel
import Glibc

/// Helpers of bpftime's tracing set beyond the basics: 36, 160, 173, 182, and the ones this
/// runtime answers with a documented error code because it has nothing they could act on
/// (25, 44, 65; see `unsupported`). Stacks (27, 67) are `StackHelpers`.
enum TracingHelpers {
    /// -EOPNOTSUPP: the helper exists (programs using it load and run) but has no effect here.
    static let notSupported = Errno.result(95)

    static func register(in table: HelperTable) {
        // A write into target memory is allowed only where the program may write anyway: an
        // untrusted program never reaches memory it was not given.
        table.register(HelperID.probeWriteUser, name: "probe_write_user") { d, s, n, _, _, raw in
            let ctx = HelperContext(raw)
            guard n > 0 else { return 0 }
            guard n <= UInt64(Int32.max), let dst = ctx.checkedPointer(d, n, write: true),
                  let src = ctx.checkedPointer(s, n, write: false) else { return Errno.result(Errno.EFAULT) }
            dst.copyMemory(from: src, byteCount: Int(n))
            return 0
        }
        table.register(HelperID.ktimeGetCoarseNs, name: "ktime_get_coarse_ns") { _, _, _, _, _, _ in
            SystemHelpers.nanoseconds(CLOCK_MONOTONIC_COARSE)
        }
        // The probed function's address: the ip of the struct pt_regs a hooked call provides.
        table.register(HelperID.getFuncIP, name: "get_func_ip") { regs, _, _, _, _, raw in
            guard let p = HelperContext(raw).checkedPointer(regs, UInt64(X86PTRegs.size), write: false) else { return 0 }
            return p.loadUnaligned(fromByteOffset: X86PTRegs.ip, as: UInt64.self)
        }
        // strncmp(s1, s1_size, s2): s1 is s1_size readable bytes, s2 a NUL-terminated string.
        table.register(HelperID.strncmp, name: "strncmp") { a, size, b, _, _, raw in
            let ctx = HelperContext(raw)
            guard size > 0 else { return 0 }
            guard size <= UInt64(Int32.max), let s1 = ctx.readable(a, Int(size), "strncmp", "s1") else { return 0 }
            let readable = Int(ctx.state.pointee.readableLength(from: b, upTo: size))
            guard let s2 = UnsafeRawPointer(bitPattern: UInt(truncatingIfNeeded: b)) else { return ctx.fault("strncmp: s2 is null") }
            for i in 0 ..< Int(size) {
                guard i < readable else { return ctx.fault("strncmp: s2 runs past readable memory before its end") }
                let x = s1.load(fromByteOffset: i, as: UInt8.self), y = s2.load(fromByteOffset: i, as: UInt8.self)
                if x != y { return UInt64(bitPattern: Int64(x) - Int64(y)) }
                if x == 0 { return 0 }
            }
            return 0
        }
        for (id, name) in unsupported { table.register(id, name: name) { _, _, _, _, _, _ in TracingHelpers.notSupported } }
    }

    /// Helpers that answer -EOPNOTSUPP: there is no XDP packet context (44, 65).
    static let unsupported: [(HelperID, String)] = [
        (HelperID.xdpAdjustHead, "xdp_adjust_head"), (HelperID.xdpAdjustTail, "xdp_adjust_tail"),
    ]
}

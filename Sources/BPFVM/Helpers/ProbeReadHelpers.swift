/// `probe_read` (4, 112, 113) and `probe_read_str` (45, 114, 115): copies from memory the program
/// may read, never from anywhere else. An unreadable source zeroes the destination and returns
/// -EFAULT, as Linux does; an unwritable destination is the program's fault.
enum ProbeReadHelpers {
    static let copy: HelperFunction = { d, size, s, _, _, raw in
        let ctx = HelperContext(raw)
        guard size > 0 else { return 0 }
        guard size <= UInt64(Int32.max), let dst = ctx.writable(d, Int(size), "probe_read", "destination") else { return 0 }
        guard let src = ctx.checkedPointer(s, size, write: false) else {
            dst.initializeMemory(as: UInt8.self, repeating: 0, count: Int(size))
            return Errno.result(Errno.EFAULT)
        }
        dst.copyMemory(from: src, byteCount: Int(size))
        return 0
    }

    /// Copies up to the first NUL (at most `size - 1` bytes), NUL-terminates, returns the length
    /// including the NUL.
    static let copyString: HelperFunction = { d, size, s, _, _, raw in
        let ctx = HelperContext(raw)
        guard size > 0 else { return 0 }
        guard size <= UInt64(Int32.max), let dst = ctx.writable(d, Int(size), "probe_read_str", "destination") else { return 0 }
        let available = ctx.state.pointee.readableLength(from: s, upTo: size - 1)
        guard let src = UnsafeMutableRawPointer(bitPattern: UInt(truncatingIfNeeded: s)), available > 0 || size == 1 else {
            dst.storeBytes(of: 0, as: UInt8.self)
            return Errno.result(Errno.EFAULT)
        }
        var n = 0
        while n < Int(available) && src.load(fromByteOffset: n, as: UInt8.self) != 0 { n += 1 }
        if n == Int(available) && available < size - 1 {
            // The string runs past the readable memory before its NUL.
            dst.storeBytes(of: 0, as: UInt8.self)
            return Errno.result(Errno.EFAULT)
        }
        dst.copyMemory(from: src, byteCount: n)
        dst.storeBytes(of: 0, toByteOffset: n, as: UInt8.self)
        return UInt64(n + 1)
    }

    static func register(in table: HelperTable) {
        table.register(HelperID.probeRead, name: "probe_read", copy)
        table.register(HelperID.probeReadUser, name: "probe_read_user", copy)
        table.register(HelperID.probeReadKernel, name: "probe_read_kernel", copy)
        table.register(HelperID.probeReadStr, name: "probe_read_str", copyString)
        table.register(HelperID.probeReadUserStr, name: "probe_read_user_str", copyString)
        table.register(HelperID.probeReadKernelStr, name: "probe_read_kernel_str", copyString)
    }
}

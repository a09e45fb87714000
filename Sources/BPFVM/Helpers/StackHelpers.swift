import BPFModel

/// `bpf_get_stack(ctx, buf, size, flags)` (67) and `bpf_get_stackid(ctx, map, flags)` (27) for
/// user stacks: the ip of the `struct pt_regs` context, then the return address of every frame
/// found by following saved frame pointers from its bp, as the kernel's user-stack walker does.
/// Every read of a frame is checked as `probe_read` checks its source (memory the program may
/// read: in the agent, the calling thread's stack above the hook's sp), so the walk never faults:
/// it stops at an unreadable, misaligned or non-increasing frame.
enum StackHelpers {
    static let skipMask: UInt64 = 0xFF
    static let userStack: UInt64 = 1 << 8
    static let userBuildID: UInt64 = 1 << 11
    static let fastStackCompare: UInt64 = 1 << 9
    static let reuseStackID: UInt64 = 1 << 10
    /// The kernel's default `kernel.perf_event_max_stack`.
    static let maxDepth = 127

    static func register(in table: HelperTable) {
        table.register(HelperID.getStack, name: "get_stack") { regs, buf, size, flags, _, raw in
            StackHelpers.getStack(HelperContext(raw), regs: regs, buffer: buf, size: size, flags: flags)
        }
        table.register(HelperID.getStackID, name: "get_stackid") { regs, m, flags, _, _, raw in
            let ctx = HelperContext(raw)
            return ctx.withMap(m, helper: "get_stackid") { fd, info, maps in
                StackHelpers.getStackID(ctx, regs: regs, map: fd, info, maps, flags: flags)
            }
        }
    }

    /// Stores the stack in a stack_trace map under its id (a hash of its addresses modulo
    /// max_entries; the kernel's is modulo a power of two) and returns the id. The value is
    /// the addresses, zero-padded to value_size. An id holding another stack is -EEXIST unless
    /// BPF_F_REUSE_STACKID, which overwrites it; an empty stack is -EFAULT, as in the kernel.
    static func getStackID(_ ctx: HelperContext, regs: UInt64, map fd: Int32, _ info: MapInfo, _ maps: MapBackend, flags: UInt64) -> UInt64 {
        guard info.kind == .stackTrace, info.keySize == 4, info.valueSize >= 8, info.valueSize % 8 == 0, info.maxEntries > 0,
              flags & ~(skipMask | userStack | fastStackCompare | reuseStackID) == 0 else { return Errno.result(Errno.EINVAL) }
        guard flags & userStack != 0 else { return Errno.result(Errno.EFAULT) }
        var addresses = [UInt64](repeating: 0, count: info.valueSize / 8)
        var count = 0
        let status = walk(ctx, regs: regs, skip: Int(flags & skipMask), limit: min(addresses.count, maxDepth)) {
            addresses[count] = $0
            count += 1
        }
        guard status == 0 else { return status }
        guard count > 0 else { return Errno.result(Errno.EFAULT) }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 // FNV-1a over the addresses
        for address in addresses[..<count] { hash = (hash ^ address) &* 0x0000_0100_0000_01b3 }
        let id = UInt32(hash % UInt64(info.maxEntries))
        return withUnsafeBytes(of: id.littleEndian) { key in
            addresses.withUnsafeBytes { value in
                if let stored = maps.lookup(fd: fd, key: key.baseAddress!, cpu: 0) {
                    if UnsafeRawBufferPointer(start: stored, count: info.valueSize).elementsEqual(value) { return UInt64(id) }
                    guard flags & reuseStackID != 0 else { return Errno.result(Errno.EEXIST) }
                }
                let result = maps.update(fd: fd, key: key.baseAddress!, value: value.baseAddress!, flags: 0, cpu: 0)
                return result == 0 ? UInt64(id) : UInt64(status: result)
            }
        }
    }

    /// Fills `buffer` with the stack's addresses and zeroes the rest; returns the bytes written
    /// or the error of `check`/`walk` (the buffer then all zero).
    static func getStack(_ ctx: HelperContext, regs: UInt64, buffer: UInt64, size: UInt64, flags: UInt64) -> UInt64 {
        guard size > 0 else { return check(flags, size: 0) ?? 0 }
        guard size <= UInt64(Int32.max), let dst = ctx.writable(buffer, Int(size), "get_stack", "buffer") else { return 0 }
        var written = 0
        let status = check(flags, size: size) ?? walk(ctx, regs: regs, skip: Int(flags & skipMask), limit: min(Int(size / 8), maxDepth)) {
            dst.storeBytes(of: $0, toByteOffset: written * 8, as: UInt64.self)
            written += 1
        }
        (dst + written * 8).initializeMemory(as: UInt8.self, repeating: 0, count: Int(size) - written * 8)
        return status == 0 ? UInt64(written * 8) : status
    }

    /// The error for `flags` and `size`, or nil when they ask for a user stack this walker gives:
    /// -EINVAL for unknown flags or a size not a multiple of 8, -EOPNOTSUPP for build ids, and
    /// -EFAULT for a kernel stack (a userspace runtime has none).
    static func check(_ flags: UInt64, size: UInt64) -> UInt64? {
        guard flags & ~(skipMask | userStack | userBuildID) == 0, size % 8 == 0 else { return Errno.result(Errno.EINVAL) }
        guard flags & userBuildID == 0 else { return TracingHelpers.notSupported }
        guard flags & userStack != 0 else { return Errno.result(Errno.EFAULT) }
        return nil
    }

    /// Passes up to `limit` addresses of the stack at `regs` to `body`, after skipping `skip`;
    /// returns 0, or -EFAULT when `regs` is not a readable `struct pt_regs`.
    static func walk(_ ctx: HelperContext, regs: UInt64, skip: Int, limit: Int, _ body: (UInt64) -> Void) -> UInt64 {
        guard let r = ctx.checkedPointer(regs, UInt64(X86PTRegs.size), write: false) else { return Errno.result(Errno.EFAULT) }
        var skipped = 0, given = 0
        func emit(_ address: UInt64) {
            if skipped < skip { skipped += 1 } else { body(address); given += 1 }
        }
        emit(r.loadUnaligned(fromByteOffset: X86PTRegs.ip, as: UInt64.self))
        var frame = r.loadUnaligned(fromByteOffset: X86PTRegs.bp, as: UInt64.self)
        // A frame is [saved bp, return address]; callers' frames lie at higher addresses.
        while given < limit, frame & 7 == 0, let p = ctx.checkedPointer(frame, 16, write: false) {
            let next = p.load(as: UInt64.self), returnAddress = p.load(fromByteOffset: 8, as: UInt64.self)
            guard returnAddress != 0 else { break }
            emit(returnAddress)
            guard next > frame else { break }
            frame = next
        }
        return 0
    }
}

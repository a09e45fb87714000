import Glibc

/// Helpers about time, the process and the CPU: 5, 7, 8, 14, 15, 16, 125, 174.
enum SystemHelpers {
    static func register(in table: HelperTable) {
        table.register(HelperID.ktimeGetNs, name: "ktime_get_ns") { _, _, _, _, _, _ in SystemHelpers.nanoseconds(CLOCK_MONOTONIC) }
        table.register(HelperID.ktimeGetBootNs, name: "ktime_get_boot_ns") { _, _, _, _, _, _ in SystemHelpers.nanoseconds(CLOCK_BOOTTIME) }
        table.register(HelperID.getPrandomU32, name: "get_prandom_u32") { _, _, _, _, _, raw in
            // xorshift64*: fast, per VM, seeded randomly.
            let env = HelperContext(raw).environment
            var x = env.randomState
            x ^= x >> 12
            x ^= x << 25
            x ^= x >> 27
            env.randomState = x
            return (x &* 0x2545_F491_4F6C_DD1D) >> 32
        }
        table.register(HelperID.getSmpProcessorID, name: "get_smp_processor_id") { _, _, _, _, _, _ in
            UInt64(GNU.currentCPU())
        }
        table.register(HelperID.getCurrentPidTgid, name: "get_current_pid_tgid") { _, _, _, _, _, _ in
            UInt64(UInt32(bitPattern: getpid())) << 32 | UInt64(UInt32(bitPattern: GNU.threadID()))
        }
        table.register(HelperID.getCurrentUidGid, name: "get_current_uid_gid") { _, _, _, _, _, _ in
            UInt64(getgid()) << 32 | UInt64(getuid())
        }
        table.register(HelperID.getCurrentComm, name: "get_current_comm") { d, size, _, _, _, raw in
            let ctx = HelperContext(raw)
            guard size > 0 else { return Errno.result(Errno.EINVAL) }
            guard size <= UInt64(Int32.max), let dst = ctx.writable(d, Int(size), "get_current_comm", "buffer") else { return 0 }
            let n = min(GNU.processName.count - 1, Int(size) - 1)
            GNU.processName.withUnsafeBytes { dst.copyMemory(from: $0.baseAddress.unsafelyUnwrapped, byteCount: n) }
            dst.storeBytes(of: 0, toByteOffset: n, as: UInt8.self)
            return 0
        }
        table.register(HelperID.getAttachCookie, name: "get_attach_cookie") { _, _, _, _, _, raw in
            HelperContext(raw).cookie
        }
    }

    static func nanoseconds(_ clock: clockid_t) -> UInt64 {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}

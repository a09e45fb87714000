import Glibc

/// glibc functions Swift's Glibc module hides (they need _GNU_SOURCE), looked up once.
enum GNU {
    private static func symbol<T>(_ name: String, as type: T.Type) -> T? {
        guard let handle = dlopen(nil, RTLD_NOW), let pointer = dlsym(handle, name) else { return nil }
        return unsafeBitCast(pointer, to: type)
    }

    static let schedGetCPU = symbol("sched_getcpu", as: (@convention(c) () -> Int32).self)
    private static let getTID = symbol("gettid", as: (@convention(c) () -> Int32).self)

    /// Where this thread's rseq `cpu_id` lies, as an offset from the thread pointer (the fs base):
    /// what `sched_getcpu` itself reads, kept current by the kernel across migrations. `nil` when
    /// glibc registered no rseq area (before 2.35, disabled, or under valgrind).
    static let rseqCPUOffset: Int32? = {
        guard let size = symbol("__rseq_size", as: UnsafePointer<UInt32>.self), size.pointee >= 8,
              let offset = symbol("__rseq_offset", as: UnsafePointer<Int>.self) else { return nil }
        return Int32(exactly: offset.pointee + 4)  // struct rseq: cpu_id_start, then cpu_id
    }()

    /// The CPU this thread runs on (0 when unknown).
    @inline(__always)
    static func currentCPU() -> Int { Int(max(schedGetCPU?() ?? 0, 0)) }

    /// The calling thread's id (the process id when unknown).
    static func threadID() -> Int32 { getTID?() ?? getpid() }

    /// The process name as the kernel keeps it (`comm`, at most 15 bytes), NUL-terminated.
    static let processName: [UInt8] = {
        var name = [UInt8](repeating: 0, count: 16)
        var count = 0
        if let file = fopen("/proc/self/comm", "r") {
            count = fread(&name, 1, 15, file)
            fclose(file)
        }
        return Array(name.prefix(count).prefix { $0 != 0 && $0 != UInt8(ascii: "\n") }) + [0]
    }()
}

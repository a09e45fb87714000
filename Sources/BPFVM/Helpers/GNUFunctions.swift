import Glibc

/// glibc functions Swift's Glibc module hides (they need _GNU_SOURCE), looked up once.
enum GNU {
    private static func symbol<T>(_ name: String, as type: T.Type) -> T? {
        guard let handle = dlopen(nil, RTLD_NOW), let pointer = dlsym(handle, name) else { return nil }
        return unsafeBitCast(pointer, to: type)
    }

    private static let schedGetCPU = symbol("sched_getcpu", as: (@convention(c) () -> Int32).self)
    private static let getTID = symbol("gettid", as: (@convention(c) () -> Int32).self)

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

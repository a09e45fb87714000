#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Machine code in its own pages: written while mapped read+write, then switched to read+execute
/// before it can run (never writable and executable at once). Unmapped on deinit.
final class ExecutableMemory {
    let base: UnsafeMutableRawPointer
    let size: Int
    let codeSize: Int

    init(code: [UInt8]) throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        size = max(page, (code.count + page - 1) / page * page)
        codeSize = code.count
        #if os(Linux)
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE  // one fault-in instead of one per page
        #else
        let flags = MAP_PRIVATE | MAP_ANONYMOUS
        #endif
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, flags, -1, 0),
              p != MAP_FAILED else {
            throw JITError.executableMemory(operation: "map", bytes: size, errno: errno)
        }
        code.withUnsafeBytes { if let src = $0.baseAddress { p.copyMemory(from: src, byteCount: code.count) } }
        guard mprotect(p, size, PROT_READ | PROT_EXEC) == 0 else {
            let e = errno
            munmap(p, size)
            throw JITError.executableMemory(operation: "make executable", bytes: size, errno: e)
        }
        base = p
    }

    deinit { munmap(base, size) }
}

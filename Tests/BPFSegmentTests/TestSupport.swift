@testable import BPFSegment
import BPFModel
import Glibc
import Testing

/// Every suite of this module runs one test at a time: several tests fork, and a fork while
/// other test threads run could copy a lock one of them holds into the child.
@Suite(.serialized) struct SegmentTests {}

/// A segment name no other test run uses.
func uniqueName() -> String { "bpftimetool_test_\(getpid())_\(UInt32.random(in: 0...UInt32.max))" }

/// Runs `body` with a fresh segment that is always removed afterwards.
func withSegment<T>(sizeMB: Int = 4, maxHandlers: Int = 256, _ body: (Segment) throws -> T) throws -> T {
    let configuration = SegmentConfiguration(name: uniqueName(), sizeBytes: sizeMB << 20, maxHandlers: maxHandlers)
    let segment = try Segment.create(configuration)
    defer { try? Segment.remove(name: configuration.name) }
    return try body(segment)
}

func mapRecord(_ fd: Int, _ kind: MapKind, key: UInt32 = 4, value: UInt32 = 8, max: UInt32 = 16,
               contents: MapContents? = nil, name: String = "m") -> HandlerRecord {
    HandlerRecord(fd: fd, handler: .map(MapHandler(
        name: name, attributes: MapAttributes(mapType: kind.linuxType, keySize: key, valueSize: value, maxEntries: max), contents: contents)))
}

func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
func le64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

let bpfAny: UInt64 = 0, bpfNoExist: UInt64 = 1, bpfExist: UInt64 = 2

/// Raw-pointer forms of the kernel-style operations, for checking errno results.
extension SegmentMap {
    func rawUpdate(_ key: [UInt8], _ value: [UInt8], flags: UInt64, cpu: Int? = nil) -> Int32 {
        key.withUnsafeBytes { k in value.withUnsafeBytes { v in update(k.baseAddress!, v.baseAddress!, flags: flags, cpu: cpu) } }
    }
    func rawDelete(_ key: [UInt8]) -> Int32 { key.withUnsafeBytes { delete($0.baseAddress!) } }
    func rawPush(_ value: [UInt8], flags: UInt64) -> Int32 { value.withUnsafeBytes { push($0.baseAddress!, flags: flags) } }
    func rawLookup(_ key: [UInt8], cpu: Int = 0) -> [UInt8]? {
        key.withUnsafeBytes { k in
            lookup(k.baseAddress!, cpu: cpu).map { Array(UnsafeRawBufferPointer(start: $0, count: valueSize)) }
        }
    }
    func rawNextKey(_ key: [UInt8]?) -> (Int32, [UInt8]) {
        var out = [UInt8](repeating: 0, count: keySize)
        let result = out.withUnsafeMutableBytes { o in
            if let key { key.withUnsafeBytes { nextKey(after: $0.baseAddress!, into: o.baseAddress!) } } else { nextKey(after: nil, into: o.baseAddress!) }
        }
        return (result, out)
    }
}

/// A forked child process. The child runs `body` and exits with its result; the parent can
/// wait for a byte the child writes on `ready` (e.g. once it holds the lock), then kill it.
struct Child {
    let pid: pid_t
    let ready: Int32

    static func start(_ body: @escaping (_ signalReady: @escaping () -> Void) -> Int32) -> Child {
        var fds: [Int32] = [0, 0]
        _ = pipe(&fds)
        let pid = fork()
        if pid == 0 {
            close(fds[0])
            let writeEnd = fds[1]
            let code = body { var byte: UInt8 = 1; _ = write(writeEnd, &byte, 1) }
            _exit(code)
        }
        close(fds[1])
        return Child(pid: pid, ready: fds[0])
    }

    /// True if the child signalled within `seconds`.
    func waitReady(seconds: Int32 = 20) -> Bool {
        var poller = pollfd(fd: ready, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, seconds * 1000) == 1 else { return false }
        var byte: UInt8 = 0
        return read(ready, &byte, 1) == 1
    }

    func kill() -> Int32 {
        Glibc.kill(pid, SIGKILL)
        return wait()
    }

    /// Exit code, or 128 + signal.
    @discardableResult func wait() -> Int32 {
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        close(ready)
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

/// Parks a child forever (until it is killed).
func parkForever() -> Never {
    while true { pause() }
}

/// Monotonic seconds.
func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

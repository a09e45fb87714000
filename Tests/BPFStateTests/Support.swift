@testable import BPFSegment
@testable import BPFState
import BPFModel
import BPFSnapshots
import Foundation
import Testing

/// One test at a time: the crash tests fork, and a fork while other test threads run could
/// copy a lock one of them holds into the child.
@Suite(.serialized) struct StateTests {}

/// A private segment configuration and history file, both removed afterwards.
struct Scratch {
    let state: RuntimeState
    let historyPath: String

    static func with<T>(sizeMB: Int = 4, _ body: (Scratch) throws -> T) throws -> T {
        let name = "bpftimetool_state_\(getpid())_\(UInt32.random(in: 0 ... .max))"
        let scratch = Scratch(state: RuntimeState(configuration: SegmentConfiguration(name: name, sizeBytes: sizeMB << 20, maxHandlers: 256)),
                              historyPath: NSTemporaryDirectory() + name + ".db")
        defer {
            try? Segment.remove(name: name)
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: scratch.historyPath + suffix) }
        }
        return try body(scratch)
    }

    func store() throws -> SnapshotStore { try SnapshotStore(path: historyPath) }
    func snapshotIDs() throws -> [Int64] { try store().list().map(\.id) }
}

func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
func le64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

/// A hash map of `count` entries, key i → value i * factor, listed in the order given.
func hashMap(fd: Int, keys: [UInt32], factor: UInt64 = 1, maxEntries: UInt32? = nil) -> HandlerRecord {
    var contents = MapContents(keySize: 4, valueSize: 8)
    contents.keys.reserveCapacity(keys.count * 4)
    contents.values.reserveCapacity(keys.count * 8)
    for k in keys { contents.append(key: le32(k), value: le64(UInt64(k) &* factor)) }
    let attributes = MapAttributes(mapType: MapKind.hash.linuxType, keySize: 4, valueSize: 8, maxEntries: maxEntries ?? UInt32(max(keys.count, 1)))
    return HandlerRecord(fd: fd, handler: .map(MapHandler(name: "counts", attributes: attributes, contents: contents)))
}

/// `mov r0, value; exit`.
func constantProgram(fd: Int, _ value: UInt8) -> HandlerRecord {
    HandlerRecord(fd: fd, handler: .program(ProgramHandler(name: "const", type: 1,
                                                           bytecode: [0xb7, 0, 0, 0, value, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0])))
}

/// A forked child running `body`; it signals on a pipe when it reaches the point to be killed at.
struct ChildProcess {
    let pid: pid_t
    let readEnd: Int32

    static func fork(_ body: @escaping (_ reached: @escaping () -> Never) -> Void) -> ChildProcess {
        var ends: [Int32] = [0, 0]
        _ = pipe(&ends)
        let pid = Glibc.fork()
        if pid == 0 {
            close(ends[0])
            let writeEnd = ends[1]
            body {
                var byte: UInt8 = 1
                _ = write(writeEnd, &byte, 1)
                while true { pause() }
            }
            _exit(3) // the point was not reached
        }
        close(ends[1])
        return ChildProcess(pid: pid, readEnd: ends[0])
    }

    /// Waits (up to 30 s) for the child to reach its point, then SIGKILLs it; false if it never got there.
    func killAtPoint() -> Bool {
        var poller = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
        var byte: UInt8 = 0
        let reached = poll(&poller, 1, 30_000) == 1 && read(readEnd, &byte, 1) == 1
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        close(readEnd)
        return reached
    }
}

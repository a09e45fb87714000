import BPFModel
import BPFSegment
import Foundation
import Glibc

/// A segment private to one test, removed when the test is done.
final class TestSegment {
    let name: String
    let segment: Segment

    init(_ records: [HandlerRecord] = []) throws {
        name = "bpftime_agent_test_\(getpid())_\(UInt32.random(in: 0 ... .max))"
        segment = try Segment.create(SegmentConfiguration(name: name, sizeBytes: 1 << 20, maxHandlers: 64))
        if !records.isEmpty { try segment.apply(records) }
    }

    deinit { try? Segment.remove(name: name) }
}

/// Raw eBPF instructions, 8 bytes each, for the few programs the tests need.
enum Asm {
    static func op(_ code: UInt8, dst: UInt8 = 0, src: UInt8 = 0, off: Int16 = 0, imm: Int32 = 0) -> [UInt8] {
        [code, dst | src << 4] + withUnsafeBytes(of: off.littleEndian, Array.init) + withUnsafeBytes(of: imm.littleEndian, Array.init)
    }
    static func mov(_ dst: UInt8, _ imm: Int32) -> [UInt8] { op(0xb7, dst: dst, imm: imm) }
    static func movReg(_ dst: UInt8, _ src: UInt8) -> [UInt8] { op(0xbf, dst: dst, src: src) }
    static func add(_ dst: UInt8, _ imm: Int32) -> [UInt8] { op(0x07, dst: dst, imm: imm) }
    static func mul(_ dst: UInt8, _ imm: Int32) -> [UInt8] { op(0x27, dst: dst, imm: imm) }
    static func rsh(_ dst: UInt8, _ imm: Int32) -> [UInt8] { op(0x77, dst: dst, imm: imm) }
    static func load64(_ dst: UInt8, _ src: UInt8, _ off: Int16) -> [UInt8] { op(0x79, dst: dst, src: src, off: off) }
    static func store64(_ dst: UInt8, _ off: Int16, _ src: UInt8) -> [UInt8] { op(0x7b, dst: dst, src: src, off: off) }
    static func store32(_ dst: UInt8, _ off: Int16, _ src: UInt8) -> [UInt8] { op(0x63, dst: dst, src: src, off: off) }
    static func call(_ helper: Int32) -> [UInt8] { op(0x85, imm: helper) }
    static func jeq(_ dst: UInt8, _ imm: Int32, _ off: Int16) -> [UInt8] { op(0x15, dst: dst, off: off, imm: imm) }
    static let exit = op(0x95)
    static func loadMap(_ dst: UInt8, fd: Int32) -> [UInt8] { op(0x18, dst: dst, src: 1, imm: fd) + op(0, imm: 0) }

    /// `prologue` (may set r6-r9), then r0 = &map[slot]; if found, `body` runs with r0 pointing
    /// at the 8-byte value. Returns 0.
    static func withSlot(map: Int32, slot: Int32, prologue: [[UInt8]] = [], _ body: [[UInt8]]) -> [UInt8] {
        let lookup = [mov(1, slot), store32(10, -4, 1), movReg(2, 10), add(2, -4), loadMap(1, fd: map), call(1)]
        let skip = jeq(0, 0, Int16(body.count))
        return (prologue + lookup + [skip] + body + [mov(0, 0), exit]).flatMap { $0 }
    }

    /// map[slot] = map[slot] * 10 + digit: runs leave their order in the value's decimal digits.
    static func appendDigit(map: Int32, slot: Int32, _ digit: Int32) -> [UInt8] {
        withSlot(map: map, slot: slot, [load64(1, 0, 0), mul(1, 10), add(1, digit), store64(0, 0, 1)])
    }

    /// map[slot] += 1: the per-CPU counter of the benchmark.
    static func count(map: Int32, slot: Int32 = 0) -> [UInt8] {
        withSlot(map: map, slot: slot, [load64(1, 0, 0), add(1, 1), store64(0, 0, 1)])
    }

    /// map[pid] = map[pid] + 1 with map_update_elem, so that every call takes the segment lock
    /// for a journaled write (the demo's count_calls increments in place).
    static func countByUpdate(map: Int32) -> [UInt8] {
        [call(14), rsh(0, 32), store32(10, -4, 0),
         movReg(2, 10), add(2, -4), loadMap(1, fd: map), call(1),
         mov(7, 1), jeq(0, 0, 2), load64(7, 0, 0), add(7, 1), store64(10, -16, 7),
         loadMap(1, fd: map), movReg(2, 10), add(2, -4), movReg(3, 10), add(3, -16), mov(4, 0), call(2),
         mov(0, 0), exit].flatMap { $0 }
    }

    /// map[slot] = the attach cookie.
    static func storeCookie(map: Int32, slot: Int32) -> [UInt8] {
        withSlot(map: map, slot: slot, prologue: [call(174), movReg(6, 0)], [store64(0, 0, 6)])
    }
}

enum Fixture {
    static let arrayType: UInt32 = 2, percpuArrayType: UInt32 = 6

    static func array(_ fd: Int, entries: UInt32 = 8, type: UInt32 = arrayType) -> HandlerRecord {
        HandlerRecord(fd: fd, handler: .map(MapHandler(name: "slots", attributes: MapAttributes(mapType: type, keySize: 4, valueSize: 8, maxEntries: entries))))
    }

    static func program(_ fd: Int, _ name: String, _ code: [UInt8], attach: [ProgramHandler.Attachment] = []) -> HandlerRecord {
        HandlerRecord(fd: fd, handler: .program(ProgramHandler(name: name, type: 0, bytecode: code, attachments: attach)))
    }

    static func uprobe(_ fd: Int, module: String, offset: UInt64, enabled: Bool = true, pid: Int32 = -1, returning: Bool = false,
                       overriding: Bool = false) -> HandlerRecord {
        let target = PerfEventHandler.UprobeTarget(moduleName: module, offset: offset, pid: pid)
        let event: PerfEventHandler.Event = returning ? .uretprobe(target) : overriding ? .uprobeOverride(target) : .uprobe(target)
        return HandlerRecord(fd: fd, handler: .perfEvent(PerfEventHandler(event: event, enabled: enabled)))
    }

    static func tracepoint(_ fd: Int, id: Int32, enabled: Bool = true) -> HandlerRecord {
        HandlerRecord(fd: fd, handler: .perfEvent(PerfEventHandler(event: .tracepoint(pid: -1, tracepointID: id), enabled: enabled)))
    }

    static func link(_ fd: Int, program: Int, target: Int, cookie: UInt64 = 0) -> HandlerRecord {
        HandlerRecord(fd: fd, handler: .link(LinkHandler(programFD: program, targetFD: target, cookie: cookie)))
    }

    /// The 8-byte value at `slot` of array map `fd` (CPU 0's for per-CPU maps: the sum over CPUs).
    static func value(_ segment: Segment, map fd: Int, slot: UInt32) throws -> UInt64 {
        let map = try segment.map(at: fd)
        let key = withUnsafeBytes(of: slot.littleEndian, Array.init)
        guard let bytes = try map.lookup(key: key) else { return 0 }
        return stride(from: 0, to: bytes.count, by: 8).reduce(0) { sum, at in
            sum &+ bytes[at ..< at + 8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        }
    }
}

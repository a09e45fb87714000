import BPFAgent
import BPFModel
import BPFRuntime
import BPFSegment
import BPFVM
import Foundation
import Glibc
import Testing

/// One corrupt word anywhere a reader looks (header, handler table, records, map storage) is
/// an error or a no-op for every reader and for a running agent, never a trap: a trap ends the
/// test process, which fails the suite. Seeded, so a failure replays; set FUZZ_VERBOSE=1 to
/// see which case it was.
@Suite(.serialized) struct CorruptSegmentFuzzTests {
    static let cases = 3000
    static let hook = Hook.uprobe(module: "/opt/app/demo-target", offset: 0x1234)

    /// A segment with one of each map kind that holds data, programs that use them, a hook and a link.
    static func realSegment() throws -> TestSegment {
        func map(_ fd: Int, _ type: UInt32, key: UInt32, value: UInt32, entries: UInt32) -> HandlerRecord {
            HandlerRecord(fd: fd, handler: .map(MapHandler(name: "m\(fd)", attributes: MapAttributes(mapType: type, keySize: key, valueSize: value, maxEntries: entries))))
        }
        let t = try TestSegment([
            Fixture.array(1),
            map(2, 1, key: 4, value: 8, entries: 16),   // hash
            map(3, 9, key: 4, value: 8, entries: 4),    // lru_hash
            map(4, 5, key: 4, value: 8, entries: 8),    // percpu_hash
            map(5, 22, key: 0, value: 8, entries: 8),   // queue
            map(6, 27, key: 0, value: 0, entries: 4096), // ringbuf
            map(7, 3, key: 4, value: 4, entries: 4),    // prog_array
            Fixture.uprobe(8, module: "demo-target", offset: 0x1234),
            Fixture.program(9, "count", Asm.count(map: 1), attach: [.init(targetFD: 8)]),
            Fixture.program(10, "digit", Asm.appendDigit(map: 2, slot: 3, 4)),
            Fixture.link(11, program: 10, target: 8),
        ])
        let key = { (k: UInt32) in withUnsafeBytes(of: k.littleEndian, Array.init) }
        for k: UInt32 in 0 ..< 6 {
            try t.segment.map(at: 2).update(key: key(k), value: Array(repeating: UInt8(k), count: 8))
            try t.segment.map(at: 3).update(key: key(k), value: Array(repeating: UInt8(k), count: 8))
        }
        let perCPU = try t.segment.map(at: 4)
        try perCPU.update(key: key(1), value: Array(repeating: 1, count: perCPU.userValueSize))
        for v: UInt8 in 1 ... 3 { try t.segment.map(at: 5).push(value: Array(repeating: v, count: 8)) }
        try t.segment.map(at: 7).update(key: key(0), value: key(9))
        return t
    }

    /// Every read a command of the tool makes: list, export, check, status, map commands, run.
    static func readEverything(_ name: String) {
        guard let segment = try? Segment.open(name: name) else { return }
        _ = segment.status()
        _ = segment.check()
        _ = try? segment.records(includeContents: true)
        for fd in 0 ..< 12 {
            _ = try? segment.handler(at: fd, includeContents: true)
            if let map = try? segment.map(at: fd) {
                _ = try? map.contents()
                _ = try? map.nextKey(after: nil)
                _ = try? map.lookup(key: [1, 0, 0, 0])
                _ = try? map.peek()
                _ = try? map.ringbufRecords(limit: 4)
            }
            if let program = try? SegmentProgram(segment: segment, fd: fd),
               let engine = try? program.interpreter(options: VMOptions(maxInstructions: 100_000)) {
                var input = [UInt8](repeating: 0, count: 64)
                _ = input.withUnsafeMutableBytes { try? engine.run(input: $0, cookie: 0, readable: nil) }
            }
        }
    }

    @Test func corruptWordsNeverTrapReadersOrTheAgent() throws {
        let t = try Self.realSegment()
        let fd = shm_open("/" + t.name, O_RDWR, 0)
        try #require(fd >= 0)
        defer { close(fd) }
        let size = 1 << 20
        let raw = try #require(mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0))
        defer { munmap(raw, size) }
        let pristine = [UInt8](UnsafeRawBufferPointer(start: raw, count: size))
        let heapStart = Int(raw.loadUnaligned(fromByteOffset: 88, as: UInt64.self))
        let usedEnd = t.segment.status().usedBytes
        let verbose = ProcessInfo.processInfo.environment["FUZZ_VERBOSE"] != nil

        var random = Xorshift(seed: 0x5EED_0B5F)
        var agent = try Agent.open(segmentName: t.name)
        let hook = agent.resolve(Self.hook)
        for index in 0 ..< Self.cases {
            pristine.withUnsafeBytes { raw.copyMemory(from: $0.baseAddress!, byteCount: size) }
            if agent.isDetached { agent = try Agent.open(segmentName: t.name) }
            let at = Self.corruptionOffset(&random, heapStart: heapStart, usedEnd: usedEnd)
            let old = raw.loadUnaligned(fromByteOffset: at, as: UInt64.self)
            let new = Self.corruptValue(&random, old: old, size: size)
            if verbose { print("case \(index): word at \(at) \(String(old, radix: 16)) -> \(String(new, radix: 16))") }
            raw.storeBytes(of: new, toByteOffset: at, as: UInt64.self)
            // A new table generation makes the agent reload from the corrupt table.
            raw.storeBytes(of: UInt64(1_000_000 + index), toByteOffset: 48, as: UInt64.self)
            Self.readEverything(t.name)
            _ = agent.fire(hook)
        }
        pristine.withUnsafeBytes { raw.copyMemory(from: $0.baseAddress!, byteCount: size) }
        #expect(t.segment.check().isEmpty)
    }

    /// A header field (the lock's words aside: a corrupt lock is a timeout, tested elsewhere),
    /// a handler-table slot, or a word of the used heap (records and map storage).
    static func corruptionOffset(_ random: inout Xorshift, heapStart: Int, usedEnd: Int) -> Int {
        switch random.next() % 3 {
        case 0:
            let word = Int(random.next() % 88)
            return word < 24 ? word * 8 : 256 + (word - 24) * 8
        case 1:
            return 4096 + Int(random.next() % 12) * 8
        default:
            let words = UInt64((usedEnd - heapStart) / 8)
            return heapStart + Int(random.next() % words) * 8
        }
    }

    static func corruptValue(_ random: inout Xorshift, old: UInt64, size: Int) -> UInt64 {
        switch random.next() % 9 {
        case 0: return 0x8000_0000_0000_0000
        case 1: return 0
        case 2: return .max
        case 3: return random.next()
        case 4: return random.next() % UInt64(size)
        case 5: return old ^ (1 << (random.next() % 64))
        case 6: return old &+ 8 &* (random.next() % 16)
        case 7: return old &- 48
        default: return old ^ UInt64(UInt32.max) << (random.next() % 2 * 32)
        }
    }
}

/// xorshift64*: a small seeded generator, so that every run corrupts the same words.
struct Xorshift: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed | 1 }
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}

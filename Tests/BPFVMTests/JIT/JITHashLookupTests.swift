import BPFModel
import BPFSegment
import Foundation
import Synchronization
import TestSupport
import Testing
@testable import BPFVM

/// The JIT's inline `map_lookup_elem` on hash maps (`JITCompiler.hashLookup`): the interpreter's
/// results, errors and grants on the fast path and on every way off it, the fast path really
/// taken where it applies, and reads that stay inside the map whatever its chains hold.
@Suite struct JITHashLookupTests {
    /// fd 3: hash of 4-byte keys and 8-byte values, keys 0..<10 holding key * 3; 4: the same with
    /// 8-byte keys (key << 32 | key); 5: read-only hash of one 12-byte value at key 1; 6: LRU
    /// hash holding key 1. With `marked`, the program-write marks are raised, as after a first lookup.
    static func maps(marked: Bool = true) throws -> SegmentMaps {
        let maps = SegmentMaps()
        maps.addMap(fd: 3, MapInfo(kind: .hash, keySize: 4, valueSize: 8, maxEntries: 16))
        maps.addMap(fd: 4, MapInfo(kind: .hash, keySize: 8, valueSize: 8, maxEntries: 16))
        maps.addMap(fd: 5, MapInfo(kind: .hash, keySize: 4, valueSize: 12, maxEntries: 4, readOnly: true))
        maps.addMap(fd: 6, MapInfo(kind: .lruHash, keySize: 4, valueSize: 8, maxEntries: 4))
        for k: UInt32 in 0 ..< 10 {
            try maps.segment.map(at: 3).update(key: key(k), value: le64(UInt64(k) * 3))
            try maps.segment.map(at: 4).update(key: le64(wide(k)), value: le64(UInt64(k) * 3))
        }
        try maps.segment.map(at: 5).update(key: key(1), value: [UInt8](repeating: 7, count: 12))
        try maps.segment.map(at: 6).update(key: key(1), value: le64(5))
        if marked {
            for fd: Int32 in [3, 5, 6] { _ = maps.value(fd: fd, key: key(1)) }
            _ = maps.value(fd: 4, key: le64(wide(1)))
        }
        return maps
    }

    static func wide(_ k: UInt32) -> UInt64 { UInt64(k) << 32 | UInt64(k) }

    /// r0 = lookup of 4-byte `key` in map `fd`, the key on the stack and the map loaded right
    /// before the call (clang's shape).
    static func lookup(_ fd: Int, key: Int64) -> String { JITArrayLookupTests.lookup(fd, key: key) }

    /// The same with an 8-byte key.
    static func lookupWide(_ fd: Int, key: UInt64) -> String {
        "lddw %r3, 0x\(String(key, radix: 16))\nstxdw [%r10-8], %r3\nmov %r2, %r10\nadd %r2, -8\nlddw %r1, map_fd \(fd)\ncall 1\n"
    }

    /// `keySetUp`, then a lookup in map 3 of the key at r2, whose value is incremented.
    static func lookupAfter(_ keySetUp: String) -> String { keySetUp + "\nlddw %r1, map_fd 3\ncall 1\n" + increment }

    /// `keySetUp`, then a lookup in map 3 of the key at r2, which the helper refuses.
    static func fault(_ keySetUp: String) -> String { keySetUp + "\nlddw %r1, map_fd 3\ncall 1\nexit" }

    typealias Case = JITArrayLookupTests.Case
    static let increment = JITArrayLookupTests.increment

    static let cases: [Case] = [
        Case(name: "value incremented", text: lookup(3, key: 7) + increment, inline: true),
        Case(name: "absent key", text: lookup(3, key: 12) + "exit", inline: true),
        Case(name: "8-byte key, value incremented", text: lookupWide(4, key: wide(9)) + increment, inline: true),
        Case(name: "8-byte key absent (its low half present)", text: lookupWide(4, key: 9) + "exit", inline: true),
        Case(name: "value written past its end (the next entry)",
             text: lookup(3, key: 1) + "jeq %r0, 0, +1\nstdw [%r0+8], 1\nmov %r0, 0\nexit", kind: .memoryViolation, inline: true),
        Case(name: "value read below its start (its own key)",
             text: lookup(3, key: 2) + "jeq %r0, 0, +1\nldxw %r0, [%r0-4]\nexit", kind: .memoryViolation, inline: true),
        Case(name: "read-only value read", text: lookup(5, key: 1) + "jeq %r0, 0, +1\nldxw %r0, [%r0+8]\nexit", inline: true),
        Case(name: "read-only value written",
             text: lookup(5, key: 1) + "jeq %r0, 0, +1\nstw [%r0+0], 1\nmov %r0, 0\nexit", kind: .memoryViolation, inline: true),
        Case(name: "two values, both usable",
             text: lookup(3, key: 0) + "mov %r6, %r0\n" + lookup(3, key: 1) + "stdw [%r6+0], 5\nstdw [%r0+0], 6\nldxdw %r0, [%r6+0]\nexit",
             inline: true),
        Case(name: "the map loaded before the key is set up (same block)",
             text: "lddw %r1, map_fd 3\nstw [%r10-4], 4\nmov %r2, %r10\nadd %r2, -4\ncall 1\n" + increment, inline: true),
        Case(name: "r1 written between the map load and the call",
             text: "lddw %r1, map_fd 3\nmov %r1, %r1\nstw [%r10-4], 4\nmov %r2, %r10\nadd %r2, -4\ncall 1\n" + increment, inline: false),
        Case(name: "a jump target between the map load and the call",
             text: "lddw %r1, map_fd 3\nja +0\nstw [%r10-4], 4\nmov %r2, %r10\nadd %r2, -4\ncall 1\n" + increment, inline: false),
        Case(name: "an LRU hash map (its lookups mark the entry)", text: lookup(6, key: 1) + increment, inline: false),
        Case(name: "the key in the input", text: "mov %r2, %r1\nlddw %r1, map_fd 3\ncall 1\njeq %r0, 0, +1\nldxdw %r0, [%r0+0]\nexit",
             memory: [1, 0, 0, 0], inline: false),
        Case(name: "an 8-byte key running past the stack top",
             text: "mov %r2, %r10\nadd %r2, -4\nlddw %r1, map_fd 4\ncall 1\nexit", kind: .helperFault, inline: false),
        // `r2 = r10; r2 += K` passes a key the JIT knows to be in the current frame (no check
        // emitted) only when all of it is: these are the edges of that proof.
        Case(name: "a key at the bottom of the frame", text: "stw [%r10-512], 7\n" + lookupAfter("mov %r2, %r10\nadd %r2, -512"), inline: true),
        Case(name: "a key one byte across the frame's top", text: fault("mov %r2, %r10\nadd %r2, -3"), kind: .helperFault, inline: false),
        Case(name: "a key just below the frame", text: fault("mov %r2, %r10\nadd %r2, -516"), kind: .helperFault, inline: false),
        Case(name: "a key pointer moved before its r2 += -4", text: fault("mov %r2, %r10\nadd %r2, 600\nadd %r2, -4"),
             kind: .helperFault, inline: false),
        Case(name: "r10 added to the key pointer instead of moved into it", text: fault("mov %r2, 600\nadd %r2, %r10\nadd %r2, -4"),
             kind: .helperFault, inline: false),
        Case(name: "a key pointer from another register than r10", text: fault("mov %r2, %r1\nadd %r2, -4"),
             kind: .helperFault, inline: false),
        Case(name: "a jump onto the add past r2 = r10", text: fault("mov %r2, %r1\nja +1\nmov %r2, %r10\nadd %r2, -4"),
             kind: .helperFault, inline: false),
        Case(name: "a jump past r2 = r10 - 4 onto a slot before the call",
             text: fault("mov %r2, %r1\nadd %r2, -4\nja +2\nmov %r2, %r10\nadd %r2, -4\nstw [%r10-8], 0"), kind: .helperFault, inline: false),
        Case(name: "a key pointer a called function changes",
             text: "mov %r2, %r10\nadd %r2, -4\ncall local +4\nlddw %r1, map_fd 3\ncall 1\nexit\nmov %r2, %r1\nexit",
             kind: .helperFault, inline: false),
        Case(name: "the key stored through r2 after it is set", text: lookupAfter("mov %r2, %r10\nadd %r2, -4\nstw [%r2+0], 7"), inline: true),
        Case(name: "a key pointer from r10 through another register",
             text: "stw [%r10-4], 7\n" + lookupAfter("mov %r3, %r10\nmov %r2, %r3\nadd %r2, -4"), inline: true),
        Case(name: "a key in a called function's frame",
             text: "call local +1\nexit\nstw [%r10-4], 7\n" + lookupAfter("mov %r2, %r10\nadd %r2, -4"), inline: true),
    ]

    @Test(arguments: cases)
    func endsLikeTheInterpreter(_ c: Case) throws {
        try JITArrayLookupTests.check(c, on: { try Self.maps() })
    }

    static var empty: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: nil, count: 0) }

    enum Outcome: Equatable {
        case value(UInt64)
        case error(VMError.Kind)
    }

    /// Runs `text` on both engines over the same maps.
    static func both(_ text: String, _ maps: SegmentMaps) throws -> (interpreter: Outcome, jit: Outcome) {
        let vm = try VirtualMachine(program: try TestAssembler.program(text), maps: maps)
        let jit = try JITProgram(machine: vm)
        func outcome(_ run: () throws -> UInt64) -> Outcome {
            do { return .value(try run()) } catch let error as VMError { return .error(error.kind) } catch {
                Issue.record("not a VMError: \(error)")
                return .error(.rejected)
            }
        }
        return (outcome { try vm.run(input: empty) }, outcome { try jit.run(input: empty) })
    }

    /// A map whose program-write mark is clear is looked up by the helper, which raises it; later
    /// runs are inline.
    @Test func aClearProgramWriteMarkGoesThroughTheHelperOnce() throws {
        let maps = try Self.maps(marked: false)
        let jit = try JITProgram(program: try TestAssembler.program(Self.lookup(3, key: 2) + Self.increment), maps: maps)
        #expect(try jit.run(input: Self.empty) == 7)
        #expect(maps.lookups == 1)
        #expect(try jit.run(input: Self.empty) == 8)
        #expect(maps.lookups == 1)
    }

    /// Hundreds of values in one run: the table's older half goes when it fills, on both engines
    /// alike, so the first value is refused by then and the last one is usable.
    @Test func aFullRegionTableDropsItsOlderHalfOnBothEngines() throws {
        let maps = try Self.maps()
        // r6 = key 0's value; 300 lookups of keys 1 and 2 in turn; then r6 is read.
        let loop = Self.lookup(3, key: 0) + "mov %r6, %r0\nmov %r7, 300\n"
            + "stw [%r10-4], 1\njset %r7, 1, +1\nstw [%r10-4], 2\nmov %r2, %r10\nadd %r2, -4\nlddw %r1, map_fd 3\ncall 1\n"
            + "sub %r7, 1\njne %r7, 0, -10\n"
        let early = try Self.both(loop + "ldxdw %r0, [%r6+0]\nexit", maps)
        #expect(early.jit == .error(.memoryViolation) && early.interpreter == .error(.memoryViolation))
        // The last lookup (r7 = 1) was of key 1.
        let last = try Self.both(loop + "ldxdw %r0, [%r0+0]\nexit", maps)
        #expect(last.jit == .value(3) && last.interpreter == .value(3))
        // After 120 of them the first is still usable on both.
        let recent = try Self.both(loop.replacingOccurrences(of: "mov %r7, 300", with: "mov %r7, 120") + "ldxdw %r0, [%r6+0]\nexit", maps)
        #expect(recent.jit == .value(0) && recent.interpreter == .value(0))
    }

    /// Keys of one bucket, chained deeper than the inline walk goes: the deepest is found through
    /// the helper, the shallowest inline.
    @Test func aChainLongerThanTheInlineWalkGoesToTheHelper() throws {
        let maps = SegmentMaps()
        maps.addMap(fd: 3, MapInfo(kind: .hash, keySize: 4, valueSize: 8, maxEntries: 64))
        let layout = try #require(maps.hashValueLayout(fd: 3))
        let chain = Array((UInt32(0)...).lazy.filter { Self.bucket(of: $0, layout) == Self.bucket(of: 0, layout) }
            .prefix(JITCompiler.inlineChainSteps + 2))
        // Each insert goes to the head of the chain: the first key ends up deepest.
        for k in chain { try maps.segment.map(at: 3).update(key: key(k), value: le64(UInt64(k) + 1)) }
        _ = maps.value(fd: 3, key: key(chain[0]))
        let before = maps.lookups
        let deepest = try JITProgram(program: try TestAssembler.program(Self.lookup(3, key: Int64(chain[0])) + Self.increment), maps: maps)
        #expect(try deepest.run(input: Self.empty) == UInt64(chain[0]) + 2)
        #expect(maps.lookups == before + 1)
        let shallowest = try JITProgram(program: try TestAssembler.program(Self.lookup(3, key: Int64(chain.last!)) + Self.increment), maps: maps)
        #expect(try shallowest.run(input: Self.empty) == UInt64(chain.last!) + 2)
        #expect(maps.lookups == before + 1)
    }

    /// The bucket `HashValueLayout` documents for a 4-byte key.
    static func bucket(of k: UInt32, _ layout: HashValueLayout) -> UInt32 {
        let h = UInt64(k) &* HashValueLayout.hashMultiplier
        return UInt32(truncatingIfNeeded: h ^ (h >> 32)) & layout.bucketMask
    }

    /// Chains that a torn read or corruption could show: an index past max_entries, an entry
    /// chained to itself. The inline walk follows neither out of the map; both engines answer as
    /// the helper does (nothing found), and the map's other keys are still found.
    @Test func corruptChainsStayInsideTheMap() throws {
        for corruption in ["an index past max_entries", "an index far past max_entries", "an entry chained to itself"] {
            let maps = try Self.maps()
            let layout = try #require(maps.hashValueLayout(fd: 3))
            let b = Self.bucket(of: 3, layout)
            let head = try #require(UnsafeMutableRawPointer(bitPattern: UInt(layout.buckets))) + Int(b) * 4
            let first = head.load(as: UInt32.self)
            if corruption.hasPrefix("an index") {
                head.storeBytes(of: corruption.contains("far") ? UInt32.max : UInt32(layout.maxEntries + 1), as: UInt32.self)
            } else {
                let entry = try #require(UnsafeMutableRawPointer(bitPattern: UInt(layout.entries))) + (Int(first) - 1) * layout.entryStride
                entry.storeBytes(of: first, as: UInt32.self)
            }
            // A key of that bucket that is not the chain's first entry, or an absent one.
            let absent = try #require((UInt32(100)...).first { Self.bucket(of: $0, layout) == b })
            let runs = try Self.both(Self.lookup(3, key: Int64(absent)) + "exit", maps)
            #expect(runs.jit == .value(0) && runs.interpreter == .value(0), "\(corruption)")
            let other = try #require((UInt32(0) ..< 10).first { Self.bucket(of: $0, layout) != b })
            let found = try Self.both(Self.lookup(3, key: Int64(other)) + "ldxdw %r0, [%r0+0]\nexit", maps)
            #expect(found.jit == .value(UInt64(other) * 3) && found.interpreter == .value(UInt64(other) * 3), "\(corruption)")
        }
    }

    /// An odd sequence word (a locker writing) sends the lookup to the helper, which takes the lock.
    @Test func aLockerWritingSendsTheLookupToTheHelper() throws {
        let maps = try Self.maps()
        let layout = try #require(maps.hashValueLayout(fd: 3))
        let jit = try JITProgram(program: try TestAssembler.program(Self.lookup(3, key: 5) + "ldxdw %r0, [%r0+0]\nexit"), maps: maps)
        #expect(try jit.run(input: Self.empty) == 15)
        #expect(maps.lookups == 0)
        let sequence = try #require(UnsafeMutableRawPointer(bitPattern: UInt(layout.sequence)))
        let even = sequence.load(as: UInt64.self)
        sequence.storeBytes(of: even + 1, as: UInt64.self)
        #expect(try jit.run(input: Self.empty) == 15)
        #expect(maps.lookups == 1)
    }

    /// A map replaced after compiling is no longer the one the code describes: the lookup reads
    /// it as stale (the helper's answer, 0) instead of walking its old storage.
    @Test func aMapReplacedAfterCompilingIsStale() throws {
        let maps = try Self.maps()
        let program = try TestAssembler.program(Self.lookup(3, key: 1) + Self.increment)
        let jit = try JITProgram(program: program, maps: maps)
        let vm = try VirtualMachine(program: program, maps: maps)
        #expect(try jit.run(input: Self.empty) == 4)
        maps.addMap(fd: 3, MapInfo(kind: .hash, keySize: 4, valueSize: 8, maxEntries: 32))  // another shape: a new map
        try maps.segment.map(at: 3).update(key: key(1), value: le64(40))
        _ = maps.value(fd: 3, key: key(1))
        #expect(try jit.run(input: Self.empty) == 0)
        #expect(try vm.run(input: Self.empty) == 0)
    }

    /// Keys that stay in the map are always found, with their values, while another thread
    /// inserts and deletes keys of the same buckets as fast as it can (freed entries move between
    /// the chains the JIT's code walks without the lock).
    @Test func residentKeysAreFoundWhileTheirChainsAreRewritten() throws {
        let maps = SegmentMaps()
        maps.addMap(fd: 3, MapInfo(kind: .hash, keySize: 4, valueSize: 8, maxEntries: 64))
        let layout = try #require(maps.hashValueLayout(fd: 3))
        // Two buckets of seven keys each, three resident and four coming and going: chains short
        // enough for the inline walk, which then runs while they are rewritten.
        let chains = [UInt32(0), 1].map { first in
            Array((UInt32(0)...).lazy.filter { Self.bucket(of: $0, layout) == Self.bucket(of: first, layout) }.prefix(7))
        }
        let (resident, churn) = (chains.flatMap { $0[0 ..< 3] }, chains.flatMap { $0[3...] })
        for k in resident { try maps.segment.map(at: 3).update(key: key(k), value: le64(UInt64(k) * 7)) }
        _ = maps.value(fd: 3, key: key(resident[0]))
        let program = try TestAssembler.program("ldxw %r3, [%r1+0]\nstxw [%r10-4], %r3\nmov %r2, %r10\nadd %r2, -4\n"
            + "lddw %r1, map_fd 3\ncall 1\njeq %r0, 0, +2\nldxdw %r0, [%r0+0]\nexit\nmov %r0, -1\nexit")
        let jit = try JITProgram(program: program, maps: maps)

        let writer = ChurningWriter(map: try maps.segment.map(at: 3), keys: churn)
        writer.start()
        var wrong = 0, runs = 0
        let started = Date()
        while Date().timeIntervalSince(started) < 1.5 || writer.rounds.load(ordering: .relaxed) < 100 {
            for k in resident {
                var input = key(k)
                let value = try input.withUnsafeMutableBytes { try jit.run(input: $0) }
                if value != UInt64(k) * 7 { wrong += 1 }
                runs += 1
            }
        }
        writer.stop()
        #expect(writer.failures.load(ordering: .relaxed) == 0)
        #expect(wrong == 0, "\(wrong) of \(runs) lookups saw a chain mid-change")
        // The writer holds the lock most of the time, when lookups go to the helper: the rest ran inline.
        #expect(runs - maps.lookups > 100, "\(maps.lookups) of \(runs) lookups went to the helper")
        #expect(maps.segment.check() == [])
    }
}

/// Inserts and deletes `keys` in a loop on a thread of its own (in another order than it
/// inserted them, which shuffles the free list) until stopped.
private final class ChurningWriter: @unchecked Sendable {
    let map: SegmentMap
    let keys: [UInt32]
    let rounds = Atomic<Int>(0)
    let failures = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    init(map: SegmentMap, keys: [UInt32]) {
        self.map = map
        self.keys = keys
    }

    func start() {
        Thread.detachNewThread { [self] in
            while !stopped.load(ordering: .relaxed) {
                for k in keys { count(try? map.update(key: key(k), value: le64(0), flags: 1)) }
                for k in keys.reversed() where k % 3 != 0 { count(try? map.delete(key: key(k))) }
                for k in keys where k % 3 == 0 { count(try? map.delete(key: key(k))) }
                rounds.add(1, ordering: .relaxed)
            }
            done.signal()
        }
    }

    /// Counts a failed change, then leaves the lock free for a moment, so that lookups start
    /// inline between changes and the next change lands in the middle of their walks.
    private func count(_ changed: Void?) {
        if changed == nil { failures.add(1, ordering: .relaxed) }
        for _ in 0 ..< 100 { _ = stopped.load(ordering: .relaxed) }
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        done.wait()
    }
}

import TestSupport
import Testing
import BPFModel
@testable import BPFVM

/// The JIT's inline `map_lookup_elem` on array and per-CPU array maps (`JITCompiler.arrayLookup`):
/// the interpreter's results, errors and grants on the fast path and on every way off it, and
/// the fast path really taken where it applies (no helper lookup reaches the maps).
@Suite struct JITArrayLookupTests {
    /// fd 3: array of 4 8-byte values; 4: per-CPU array of 2; 5: LRU hash; 6: read-only array of one
    /// 12-byte value; 7: array of 2 32-byte values. With `marked`, the array maps' program-write marks are raised, as after a
    /// first lookup, so the fast path applies from the first run.
    static func maps(marked: Bool = true) -> SegmentMaps {
        let maps = SegmentMaps()
        maps.addMap(fd: 3, MapInfo(kind: .array, keySize: 4, valueSize: 8, maxEntries: 4))
        maps.addMap(fd: 4, MapInfo(kind: .percpuArray, keySize: 4, valueSize: 8, maxEntries: 2))
        maps.addMap(fd: 5, MapInfo(kind: .lruHash, keySize: 4, valueSize: 8, maxEntries: 4))
        maps.addMap(fd: 6, MapInfo(kind: .array, keySize: 4, valueSize: 12, maxEntries: 1, readOnly: true))
        maps.addMap(fd: 7, MapInfo(kind: .array, keySize: 4, valueSize: 32, maxEntries: 2))
        if marked { for fd: Int32 in [3, 4, 6, 7] { _ = maps.value(fd: fd, key: key(0)) } }
        return maps
    }

    /// r0 = lookup of `key` in map `fd`, the key on the stack and the map loaded right before the
    /// call (as clang emits it): the shape the JIT inlines.
    static func lookup(_ fd: Int, key: Int64) -> String {
        "stw [%r10-4], \(key)\nmov %r2, %r10\nadd %r2, -4\nlddw %r1, map_fd \(fd)\ncall 1\n"
    }

    struct Case: CustomStringConvertible {
        let name: String
        let text: String
        var memory: [UInt8] = []
        var kind: VMError.Kind?
        /// Whether the JIT's run looks the value up without the helper.
        var inline: Bool
        var description: String { name }
    }

    static let increment = "jeq %r0, 0, +4\nldxdw %r1, [%r0+0]\nadd %r1, 1\nstxdw [%r0+0], %r1\nldxdw %r0, [%r0+0]\nexit"

    static let cases: [Case] = [
        Case(name: "array value incremented", text: lookup(3, key: 1) + increment, inline: true),
        Case(name: "per-CPU value incremented", text: lookup(4, key: 1) + increment, inline: true),
        Case(name: "array index past the end", text: lookup(3, key: 4) + "exit", inline: true),
        Case(name: "per-CPU index past the end", text: lookup(4, key: 2) + "exit", inline: true),
        Case(name: "index with the top bit set", text: lookup(3, key: -1) + "exit", inline: true),
        Case(name: "array value written past its end (the next entry)",
             text: lookup(3, key: 0) + "jeq %r0, 0, +1\nstdw [%r0+8], 1\nmov %r0, 0\nexit", kind: .memoryViolation, inline: true),
        Case(name: "per-CPU value written past its end (the next CPU's)",
             text: lookup(4, key: 0) + "jeq %r0, 0, +1\nstdw [%r0+8], 1\nmov %r0, 0\nexit", kind: .memoryViolation, inline: true),
        Case(name: "array value read straddling its end",
             text: lookup(3, key: 3) + "jeq %r0, 0, +1\nldxw %r0, [%r0+6]\nexit", kind: .memoryViolation, inline: true),
        Case(name: "array value read below its start",
             text: lookup(3, key: 2) + "jeq %r0, 0, +1\nldxb %r0, [%r0-1]\nexit", kind: .memoryViolation, inline: true),
        Case(name: "read-only array value read", text: lookup(6, key: 0) + "jeq %r0, 0, +1\nldxw %r0, [%r0+8]\nexit", inline: true),
        Case(name: "read-only array value written",
             text: lookup(6, key: 0) + "jeq %r0, 0, +1\nstw [%r0+0], 1\nmov %r0, 0\nexit", kind: .memoryViolation, inline: true),
        Case(name: "the same value twice: the newest region repeated",
             text: lookup(3, key: 2) + "mov %r6, %r0\n" + lookup(3, key: 2) + "stdw [%r6+0], 5\nldxdw %r0, [%r0+0]\nexit", inline: true),
        Case(name: "two values, both usable",
             text: lookup(3, key: 0) + "mov %r6, %r0\n" + lookup(3, key: 1) + "stdw [%r6+0], 5\nstdw [%r0+0], 6\nldxdw %r0, [%r6+0]\nexit",
             inline: true),
        Case(name: "three values, all usable",
             text: lookup(3, key: 0) + "mov %r6, %r0\n" + lookup(3, key: 1) + "mov %r7, %r0\n" + lookup(3, key: 2)
                 + "stdw [%r6+0], 5\nstdw [%r7+0], 6\nstdw [%r0+0], 7\nldxdw %r0, [%r6+0]\nldxdw %r1, [%r7+0]\nadd %r0, %r1\nexit",
             inline: true),
        // After an inline lookup the inline bounds check covers the value instead of the input.
        Case(name: "the input read after a lookup",
             text: "mov %r6, %r1\n" + lookup(3, key: 1) + "jeq %r0, 0, +3\nldxdw %r2, [%r6+0]\nstxdw [%r0+0], %r2\nldxdw %r0, [%r0+0]\nexit",
             memory: [9, 0, 0, 0, 0, 0, 0, 1], inline: true),
        Case(name: "the input written past its end after a lookup",
             text: "mov %r6, %r1\n" + lookup(3, key: 1) + "stb [%r6+8], 1\nmov %r0, 0\nexit",
             memory: [9, 0, 0, 0, 0, 0, 0, 1], kind: .memoryViolation, inline: true),
        Case(name: "a loop over a value, checked once",
             text: lookup(7, key: 1) + "jeq %r0, 0, +9\nmov %r2, %r0\nmov %r3, %r0\nadd %r3, 32\nmov %r5, 0\n"
                 + "ldxdw %r4, [%r2+0]\nadd %r5, %r4\nadd %r2, 8\njne %r2, %r3, -4\nmov %r0, %r5\nexit", inline: true),
        Case(name: "a loop running past a value",
             text: lookup(7, key: 0) + "jeq %r0, 0, +9\nmov %r2, %r0\nmov %r3, %r0\nadd %r3, 40\nmov %r5, 0\n"
                 + "ldxdw %r4, [%r2+0]\nadd %r5, %r4\nadd %r2, 8\njne %r2, %r3, -4\nmov %r0, %r5\nexit",
             kind: .memoryViolation, inline: true),
        Case(name: "a value used after a helper call",
             text: lookup(7, key: 1) + "mov %r6, %r0\ncall 7\njeq %r6, 0, +2\nstxdw [%r6+24], %r0\nldxdw %r0, [%r6+24]\nexit", inline: true),
        Case(name: "an LRU hash map (neither array nor plain hash)", text: lookup(5, key: 0) + "exit", inline: false),
        Case(name: "the key in the input", text: "mov %r2, %r1\nlddw %r1, map_fd 3\ncall 1\njeq %r0, 0, +1\nldxdw %r0, [%r0+0]\nexit",
             memory: [1, 0, 0, 0], inline: false),
        Case(name: "the key running past the stack top",
             text: "mov %r2, %r10\nadd %r2, -2\nlddw %r1, map_fd 3\ncall 1\nexit", kind: .helperFault, inline: false),
        Case(name: "the key pointer nowhere", text: "mov %r2, 4096\nlddw %r1, map_fd 4\ncall 1\nexit", kind: .helperFault, inline: false),
        Case(name: "the map loaded before the key pointer is set (same block)",
             text: "stw [%r10-4], 1\nlddw %r1, map_fd 3\nmov %r2, %r10\nadd %r2, -4\ncall 1\n" + increment, inline: true),
        Case(name: "the call at a jump target, where r1 holds another map",
             text: "stw [%r10-4], 1\nmov %r2, %r10\nadd %r2, -4\nlddw %r1, map_fd 5\nja +2\nlddw %r1, map_fd 3\ncall 1\nexit",
             inline: false),
    ]

    @Test(arguments: cases)
    func endsLikeTheInterpreter(_ c: Case) throws {
        try Self.check(c, on: { Self.maps() })
    }

    /// Runs case `c` on both engines over fresh maps from `maps`: the same outcome, the
    /// expected error, and (when it succeeds) helper lookups only where it is not inline.
    static func check(_ c: Case, on maps: () throws -> SegmentMaps) throws {
        let program = try TestAssembler.program(c.text)
        let runs = try differential(program, memory: c.memory, maps: try maps())
        #expect(runs.jit == runs.interpreter, "JIT \(runs.jit)\ninterpreter \(runs.interpreter)")
        #expect(runs.jit.kind == c.kind, "\(runs.jit)")
        guard c.kind == nil else { return }
        let fresh = try maps()
        let jit = try JITProgram(program: program, maps: fresh)
        var memory = c.memory
        _ = try memory.withUnsafeMutableBytes { try jit.run(input: $0) }
        #expect((fresh.lookups == 0) == c.inline, "helper lookups: \(fresh.lookups)")
    }

    /// The agent's counter: every run adds one to this CPU's value, none through the helper.
    @Test func perCPUCounterCountsEveryRunInline() throws {
        let maps = Self.maps()
        let jit = try JITProgram(program: try TestAssembler.program(Self.lookup(4, key: 0) + Self.increment), maps: maps)
        for _ in 0 ..< 1000 { _ = try jit.run(input: UnsafeMutableRawBufferPointer(start: nil, count: 0)) }
        #expect(maps.lookups == 0)
        let total = (0 ..< maps.cpuCount).reduce(UInt64(0)) { sum, cpu in
            sum + (maps.value(fd: 4, key: key(0), cpu: cpu).map { $0.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } } ?? 0)
        }
        #expect(total == 1000)
    }

    /// A hooked call's run, with the thread's stack granted readable: still no helper lookup, the
    /// value and the stack both usable, and a write past the value refused on both engines.
    @Test func aRunWithAReadableRegionLooksUpInline() throws {
        let maps = Self.maps()
        let counter = try JITProgram(program: try TestAssembler.program(Self.lookup(3, key: 2) + Self.increment), maps: maps)
        let stack = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 16)
        defer { stack.deallocate() }
        let empty = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        for _ in 0 ..< 100 { _ = try counter.run(input: empty, readable: UnsafeRawBufferPointer(stack)) }
        #expect(maps.lookups == 0)
        #expect(maps.value(fd: 3, key: key(2)) == le64(100))
        // r1 = the stack's address (a readable region), written into the value, read back through it.
        let reader = try TestAssembler.program("lddw %r6, 0x\(String(UInt(bitPattern: stack.baseAddress), radix: 16))\n"
            + Self.lookup(3, key: 1) + "jeq %r0, 0, +3\nldxdw %r1, [%r6+56]\nstxdw [%r0+0], %r1\nldxdw %r0, [%r0+0]\nexit")
        stack.storeBytes(of: 77, toByteOffset: 56, as: UInt64.self)
        let overrun = try TestAssembler.program(Self.lookup(3, key: 3) + "jeq %r0, 0, +1\nstdw [%r0+8], 1\nmov %r0, 0\nexit")
        for compiled in [true, false] {
            let vmReader = try VirtualMachine(program: reader, maps: maps), vmOverrun = try VirtualMachine(program: overrun, maps: maps)
            let jitReader = compiled ? try JITProgram(machine: vmReader) : nil, jitOverrun = compiled ? try JITProgram(machine: vmOverrun) : nil
            let readable = UnsafeRawBufferPointer(stack)
            #expect(try jitReader?.run(input: empty, readable: readable) ?? vmReader.run(input: empty, readable: readable) == 77)
            let error = #expect(throws: VMError.self) {
                try jitOverrun?.run(input: empty, readable: readable) ?? vmOverrun.run(input: empty, readable: readable)
            }
            #expect(error?.kind == .memoryViolation)
        }
    }

    /// A map whose program-write mark is clear is looked up by the helper, which raises it; later
    /// runs are inline.
    @Test func aClearProgramWriteMarkGoesThroughTheHelperOnce() throws {
        let maps = Self.maps(marked: false)
        let jit = try JITProgram(program: try TestAssembler.program(Self.lookup(3, key: 0) + Self.increment), maps: maps)
        #expect(try jit.run(input: UnsafeMutableRawBufferPointer(start: nil, count: 0)) == 1)
        #expect(maps.lookups == 1)
        #expect(try jit.run(input: UnsafeMutableRawBufferPointer(start: nil, count: 0)) == 2)
        #expect(maps.lookups == 1)
    }

    /// A value granted in one run is not granted in the next: a pointer kept in a map by an
    /// earlier run is refused on both engines.
    @Test func aPointerFromAnEarlierRunIsRefused() throws {
        // The writer stores key 0's address in key 1's value; the reader uses it without looking key 0 up.
        let writer = try TestAssembler.program(Self.lookup(3, key: 0) + "mov %r6, %r0\n" + Self.lookup(3, key: 1)
            + "jeq %r0, 0, +1\nstxdw [%r0+0], %r6\nmov %r0, 0\nexit")
        let reader = try TestAssembler.program(Self.lookup(3, key: 1) + "jeq %r0, 0, +2\nldxdw %r1, [%r0+0]\nldxdw %r0, [%r1+0]\nexit")
        for compiled in [true, false] {
            let maps = Self.maps()
            let engines = try [writer, reader].map { program in
                let vm = try VirtualMachine(program: program, maps: maps)
                return (vm, compiled ? try JITProgram(machine: vm) : nil)
            }
            func run(_ engine: (VirtualMachine, JITProgram?)) throws -> UInt64 {
                let empty = UnsafeMutableRawBufferPointer(start: nil, count: 0)
                return try engine.1?.run(input: empty) ?? engine.0.run(input: empty)
            }
            #expect(try run(engines[0]) == 0)
            let error = #expect(throws: VMError.self) { try run(engines[1]) }
            #expect(error?.kind == .memoryViolation, "\(compiled ? "JIT" : "interpreter"): \(String(describing: error))")
        }
    }

    /// A map replaced after compiling is no longer the one the code describes: the lookup reads
    /// it as stale (the helper's answer, 0) instead of computing an address in its old storage.
    @Test func aMapReplacedAfterCompilingIsStale() throws {
        let maps = Self.maps()
        let program = try TestAssembler.program(Self.lookup(3, key: 1) + Self.increment)
        let jit = try JITProgram(program: program, maps: maps)
        let vm = try VirtualMachine(program: program, maps: maps)
        #expect(try jit.run(input: UnsafeMutableRawBufferPointer(start: nil, count: 0)) == 1)
        maps.addMap(fd: 3, MapInfo(kind: .array, keySize: 4, valueSize: 8, maxEntries: 8))  // another shape: a new map
        _ = maps.value(fd: 3, key: key(0))
        #expect(try jit.run(input: UnsafeMutableRawBufferPointer(start: nil, count: 0)) == 0)
        #expect(try vm.run(input: UnsafeMutableRawBufferPointer(start: nil, count: 0)) == 0)
        #expect(maps.value(fd: 3, key: key(1)) == le64(0))
    }
}

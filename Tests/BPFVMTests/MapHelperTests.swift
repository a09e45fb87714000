import TestSupport
import Testing
import BPFModel
@testable import BPFVM

func key(_ k: UInt32) -> [UInt8] { withUnsafeBytes(of: k.littleEndian, Array.init) }
func le64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }

/// Programs put the 4-byte key at [r10-4] and an 8-byte value at [r10-16].
@Suite struct MapHelperTests {
    let maps: SegmentMaps = {
        let maps = SegmentMaps()
        maps.addMap(fd: 3, MapInfo(kind: .hash, keySize: 4, valueSize: 8, maxEntries: 2))
        maps.addMap(fd: 4, MapInfo(kind: .array, keySize: 4, valueSize: 8, maxEntries: 2))
        maps.addMap(fd: 5, MapInfo(kind: .queue, keySize: 0, valueSize: 8, maxEntries: 2))
        maps.addMap(fd: 6, MapInfo(kind: .stack, keySize: 0, valueSize: 8, maxEntries: 2))
        maps.addMap(fd: 7, MapInfo(kind: .percpuArray, keySize: 4, valueSize: 8, maxEntries: 1))
        maps.addMap(fd: 8, MapInfo(kind: .lruHash, keySize: 4, valueSize: 8, maxEntries: 2))
        return maps
    }()

    func update(fd: Int32, key k: UInt32, value: Int32, flags: Int32 = 0) -> String {
        """
        stw [%r10-4], \(k)
        stdw [%r10-16], \(value)
        lddw %r1, map_fd \(fd)
        mov %r2, %r10
        add %r2, -4
        mov %r3, %r10
        add %r3, -16
        mov %r4, \(flags)
        call 2
        """
    }

    func lookup(fd: Int32, key k: UInt32) -> String {
        "stw [%r10-4], \(k)\nlddw %r1, map_fd \(fd)\nmov %r2, %r10\nadd %r2, -4\ncall 1"
    }

    @Test func updateLookupAndWriteThroughTheValuePointer() throws {
        #expect(try execute(update(fd: 3, key: 1, value: 10) + "\nexit", maps: maps).r0 == 0)
        #expect(maps.value(fd: 3, key: key(1)) == le64(10))
        // The looked-up pointer is a region the program may read and write.
        let program = lookup(fd: 3, key: 1) + "\njeq %r0, 0, +3\nldxdw %r1, [%r0+0]\nadd %r1, 5\nstxdw [%r0+0], %r1\nexit"
        #expect(try execute(program, maps: maps).r0 != 0)
        #expect(maps.value(fd: 3, key: key(1)) == le64(15))
        // But not past the end of the value.
        let beyond = lookup(fd: 3, key: 1) + "\njeq %r0, 0, +1\nldxdw %r0, [%r0+1]\nexit"
        #expect(failure(beyond, maps: maps)?.kind == .memoryViolation)
        // A missing key gives NULL.
        #expect(try execute(lookup(fd: 3, key: 9) + "\nexit", maps: maps).r0 == 0)
    }

    @Test func updateFlagsAndCapacity() throws {
        #expect(try execute(update(fd: 3, key: 1, value: 1, flags: 2) + "\nexit", maps: maps).r0 == UInt64(bitPattern: -2))  // EXIST, missing
        #expect(try execute(update(fd: 3, key: 1, value: 1, flags: 1) + "\nexit", maps: maps).r0 == 0)                      // NOEXIST
        #expect(try execute(update(fd: 3, key: 1, value: 1, flags: 1) + "\nexit", maps: maps).r0 == UInt64(bitPattern: -17))
        #expect(try execute(update(fd: 3, key: 2, value: 2) + "\nexit", maps: maps).r0 == 0)
        #expect(try execute(update(fd: 3, key: 3, value: 3) + "\nexit", maps: maps).r0 == UInt64(bitPattern: -7))           // full
        #expect(try execute(update(fd: 4, key: 2, value: 3) + "\nexit", maps: maps).r0 == UInt64(bitPattern: -7))           // index out of range
    }

    /// Programs run on the segment's maps: a full LRU map makes room by evicting the entry used
    /// least recently, where a plain hash map refuses with -E2BIG.
    @Test func lruMapsEvictTheLeastRecentlyUsedEntry() throws {
        #expect(try execute(update(fd: 8, key: 1, value: 10) + "\nexit", maps: maps).r0 == 0)
        #expect(try execute(update(fd: 8, key: 2, value: 20) + "\nexit", maps: maps).r0 == 0)
        #expect(try execute(lookup(fd: 8, key: 1) + "\nexit", maps: maps).r0 != 0)   // key 1 is now the most recent
        #expect(try execute(update(fd: 8, key: 3, value: 30) + "\nexit", maps: maps).r0 == 0)
        #expect(maps.value(fd: 8, key: key(2)) == nil)
        #expect(maps.value(fd: 8, key: key(1)) == le64(10))
        #expect(maps.value(fd: 8, key: key(3)) == le64(30))
    }

    @Test func delete() throws {
        _ = try execute(update(fd: 3, key: 1, value: 10) + "\nexit", maps: maps)
        let del = "stw [%r10-4], 1\nlddw %r1, map_fd 3\nmov %r2, %r10\nadd %r2, -4\ncall 3\nexit"
        #expect(try execute(del, maps: maps).r0 == 0)
        #expect(maps.value(fd: 3, key: key(1)) == nil)
        #expect(try execute(del, maps: maps).r0 == UInt64(bitPattern: -2))
        let arrayDelete = del.replacingOccurrences(of: "map_fd 3", with: "map_fd 4")
        #expect(try execute(arrayDelete, maps: maps).r0 == UInt64(bitPattern: -22))
    }

    @Test func arrayMapsExistUpToMaxEntries() throws {
        #expect(try execute(lookup(fd: 4, key: 1) + "\nexit", maps: maps).r0 != 0)
        #expect(try execute(lookup(fd: 4, key: 2) + "\nexit", maps: maps).r0 == 0)
    }

    @Test func perCPUMapsUseTheCurrentCPUsCopy() throws {
        let program = lookup(fd: 7, key: 0) + "\nmov %r1, 1\nstxdw [%r0+0], %r1\nexit"
        _ = try execute(program, maps: maps)
        let copies = (0 ..< maps.cpuCount).map { maps.value(fd: 7, key: key(0), cpu: $0) }
        // Exactly one CPU's copy was written (whichever this thread ran on).
        #expect(copies.filter { $0 == le64(1) }.count == 1)
        #expect(copies.filter { $0 == le64(0) }.count == maps.cpuCount - 1)
    }

    func push(_ fd: Int32, _ v: Int32, flags: Int32 = 0) -> String {
        "stdw [%r10-16], \(v)\nlddw %r1, map_fd \(fd)\nmov %r2, %r10\nadd %r2, -16\nmov %r3, \(flags)\ncall 87\n"
    }

    func take(_ fd: Int32, _ helper: Int32) -> String {
        "lddw %r1, map_fd \(fd)\nmov %r2, %r10\nadd %r2, -24\ncall \(helper)\njne %r0, 0, +1\nldxdw %r0, [%r10-24]\nexit"
    }

    @Test func queuesAndStacks() throws {
        #expect(try execute(push(5, 1) + push(5, 2) + "exit", maps: maps).r0 == 0)
        #expect(try execute(push(5, 3) + "exit", maps: maps).r0 == UInt64(bitPattern: -7))   // full
        #expect(try execute(push(5, 3, flags: 2) + "exit", maps: maps).r0 == 0)              // BPF_EXIST drops the oldest
        #expect(maps.elements(fd: 5) == [le64(2), le64(3)])
        #expect(try execute(take(5, 89), maps: maps).r0 == 2)   // peek: oldest, kept
        #expect(try execute(take(5, 88), maps: maps).r0 == 2)   // pop
        #expect(try execute(take(5, 88), maps: maps).r0 == 3)
        #expect(try execute(take(5, 88), maps: maps).r0 == UInt64(bitPattern: -2))
        _ = try execute(push(6, 1) + push(6, 2) + "exit", maps: maps)
        #expect(try execute(take(6, 88), maps: maps).r0 == 2)   // stack: newest first
        #expect(try execute(take(6, 89), maps: maps).r0 == 1)
        // push on a hash map is refused; pop into an unwritable pointer is a fault.
        #expect(try execute(push(3, 1) + "exit", maps: maps).r0 == UInt64(bitPattern: -22))
        #expect(failure("lddw %r1, map_fd 5\nmov %r2, 0\ncall 88\nexit", maps: maps)?.kind == .helperFault)
        // Keyed helpers on a queue are refused before looking at the key.
        #expect(try execute(lookup(fd: 5, key: 0) + "\nexit", maps: maps).r0 == 0)
        #expect(try execute(update(fd: 5, key: 0, value: 1) + "\nexit", maps: maps).r0 == UInt64(bitPattern: -22))
    }

    @Test func valuePointersMustBeReadableForTheWholeValue() {
        // value pointer at [r10-4]: only 4 bytes of stack above it.
        let program = "stw [%r10-4], 1\nlddw %r1, map_fd 3\nmov %r2, %r10\nadd %r2, -4\nmov %r3, %r2\nmov %r4, 0\ncall 2\nexit"
        #expect(failure(program, maps: maps)?.reason.hasPrefix("map_update_elem: value pointer 0x") == true)
    }

    @Test func globalVariablesThroughMapValuePseudoLoads() throws {
        let globals = SegmentMaps()
        globals.addMap(fd: 8, MapInfo(kind: .array, keySize: 4, valueSize: 16, maxEntries: 1))
        globals.addMap(fd: 9, MapInfo(kind: .array, keySize: 4, valueSize: 8, maxEntries: 1, readOnly: true))
        let rodata = [UInt8]("hi\0\0\0\0\0\0".utf8)
        rodata.withUnsafeBytes { globals.globalValue(fd: 9)!.copyMemory(from: $0) }
        let program = """
            lddw %r1, map_value 8+8
            stdw [%r1+0], 77
            lddw %r2, map_value 9+0
            ldxb %r0, [%r2+1]
            exit
            """
        #expect(try execute(program, maps: globals).r0 == UInt64(UInt8(ascii: "i")))
        #expect(Array(globals.globalValue(fd: 8)![8 ..< 16]) == le64(77))
        // Reaching past the value, or writing to read-only data, is a violation.
        #expect(failure("lddw %r1, map_value 8+8\nstdw [%r1+8], 1\nmov %r0, 0\nexit", maps: globals)?.kind == .memoryViolation)
        let readOnly = failure("lddw %r1, map_value 9+0\nstb [%r1+0], 1\nmov %r0, 0\nexit", maps: globals)
        #expect(readOnly?.kind == .memoryViolation && readOnly?.reason.hasSuffix("is read-only") == true)
    }
}

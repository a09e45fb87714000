@testable import BPFSegment
import BPFModel
import Glibc
import Testing

extension SegmentTests {
    @Suite struct MapSemanticsTests {
        @Test func hashFlagsAndErrors() throws {
            try withSegment { segment in
                try segment.apply([mapRecord(3, .hash, max: 2)])
                let map = try segment.map(at: 3)
                #expect(map.rawLookup(le32(1)) == nil)
                #expect(map.rawUpdate(le32(1), le64(10), flags: bpfExist) == -ENOENT)
                #expect(map.rawUpdate(le32(1), le64(10), flags: bpfNoExist) == 0)
                #expect(map.rawUpdate(le32(1), le64(11), flags: bpfNoExist) == -EEXIST)
                #expect(map.rawUpdate(le32(1), le64(12), flags: bpfExist) == 0)
                #expect(map.rawLookup(le32(1)) == le64(12))
                #expect(map.rawUpdate(le32(2), le64(20), flags: bpfAny) == 0)
                #expect(map.rawUpdate(le32(3), le64(30), flags: bpfAny) == -E2BIG)
                #expect(map.rawUpdate(le32(2), le64(21), flags: bpfAny) == 0, "replacing works when full")
                #expect(map.rawUpdate(le32(1), le64(1), flags: 7) == -EINVAL)
                #expect(map.count == 2)
                #expect(map.rawDelete(le32(9)) == -ENOENT)
                #expect(map.rawDelete(le32(1)) == 0)
                #expect(map.rawLookup(le32(1)) == nil)
                #expect(map.rawUpdate(le32(3), le64(30), flags: bpfAny) == 0, "a deleted entry is reused")
                #expect(map.count == 2)
                #expect(segment.check() == [])
            }
        }

        @Test func hashNextKeyVisitsEveryKeyOnce() throws {
            try withSegment { segment in
                try segment.apply([mapRecord(3, .hash, max: 100)])
                let map = try segment.map(at: 3)
                for k in 0..<50 as Range<UInt32> { #expect(map.rawUpdate(le32(k * 7), le64(UInt64(k)), flags: bpfAny) == 0) }
                var seen: [[UInt8]] = []
                var (result, key) = map.rawNextKey(nil)
                while result == 0 {
                    seen.append(key)
                    (result, key) = map.rawNextKey(key)
                }
                #expect(result == -ENOENT)
                #expect(Set(seen) == Set((0..<50 as Range<UInt32>).map { le32($0 * 7) }) && seen.count == 50)
                #expect(map.rawNextKey(le32(999)).1 == seen[0], "an absent key restarts at the first")
                #expect(try map.nextKey(after: seen.last) == nil)
            }
        }

        @Test func bigKeysAndValues() throws {
            try withSegment { segment in
                try segment.apply([mapRecord(3, .hash, key: 13, value: 21, max: 64)])
                let map = try segment.map(at: 3)
                let keys = (0..<64).map { i in (0..<13).map { UInt8(truncatingIfNeeded: i * 31 + $0) } }
                for (i, k) in keys.enumerated() { try map.update(key: k, value: [UInt8](repeating: UInt8(i), count: 21)) }
                for (i, k) in keys.enumerated() { #expect(try map.lookup(key: k) == [UInt8](repeating: UInt8(i), count: 21)) }
                #expect(throws: SegmentError.wrongSize(fd: 3, what: "key", expected: 13, actual: 4)) { try map.lookup(key: [1, 2, 3, 4]) }
                #expect(throws: SegmentError.mapOperation(fd: 3, operation: "update", errno: E2BIG)) {
                    try map.update(key: [UInt8](repeating: 0xEE, count: 13), value: [UInt8](repeating: 0, count: 21))
                }
                #expect(segment.check() == [])
            }
        }

        @Test func arraySemantics() throws {
            try withSegment { segment in
                try segment.apply([mapRecord(3, .array, max: 4)])
                let map = try segment.map(at: 3)
                #expect(map.valuesPerEntry == 1 && map.userValueSize == 8 && map.cpuCount == segment.status().cpuCount)
                #expect(map.rawLookup(le32(2)) == le64(0), "every index exists from the start")
                #expect(map.rawLookup(le32(4)) == nil)
                #expect(map.rawUpdate(le32(2), le64(5), flags: bpfAny) == 0)
                #expect(map.rawUpdate(le32(2), le64(6), flags: bpfExist) == 0)
                #expect(map.rawUpdate(le32(2), le64(7), flags: bpfNoExist) == -EEXIST)
                #expect(map.rawUpdate(le32(4), le64(7), flags: bpfAny) == -E2BIG)
                #expect(map.rawUpdate(le32(1), le64(7), flags: 3) == -EINVAL)
                #expect(map.rawDelete(le32(2)) == -EINVAL)
                #expect(map.rawLookup(le32(2)) == le64(6))
                #expect(map.rawNextKey(nil) == (0, le32(0)))
                #expect(map.rawNextKey(le32(2)) == (0, le32(3)))
                #expect(map.rawNextKey(le32(3)).0 == -ENOENT)
                #expect(map.rawNextKey(le32(77)) == (0, le32(0)))
                let contents = try map.contents()
                #expect(contents.count == 4 && contents.key(at: 2) == le32(2)[...] && contents.value(at: 2) == le64(6)[...])
                // Kernel-user array (1002) behaves as an array.
                try segment.apply([HandlerRecord(fd: 4, handler: .map(MapHandler(name: "ku", attributes: MapAttributes(mapType: 1002, keySize: 4, valueSize: 8, maxEntries: 2))))])
                let kernelUser = try segment.map(at: 4)
                #expect(kernelUser.kind == .array && kernelUser.rawUpdate(le32(1), le64(9), flags: bpfAny) == 0 && kernelUser.rawLookup(le32(1)) == le64(9))
                try segment.apply([HandlerRecord(fd: 5, handler: .map(MapHandler(name: "kh", attributes: MapAttributes(mapType: 1001, keySize: 4, valueSize: 8, maxEntries: 1))))])
                let kernelUserHash = try segment.map(at: 5)
                #expect(kernelUserHash.kind == .hash && kernelUserHash.rawUpdate(le32(7), le64(1), flags: bpfAny) == 0)
                #expect(kernelUserHash.rawUpdate(le32(8), le64(1), flags: bpfAny) == -E2BIG)
            }
        }

        @Test func perCPUArrayAndHash() throws {
            try withSegment { segment in
                try segment.apply([mapRecord(3, .percpuArray, value: 4, max: 2), mapRecord(4, .percpuHash, value: 4, max: 4)])
                for fd in [3, 4] {
                    let map = try segment.map(at: fd)
                    let cpus = map.cpuCount
                    #expect(cpus == segment.status().cpuCount && cpus >= 1 && map.valuesPerEntry == cpus)
                    let all = (0..<cpus).flatMap { le32(UInt32(100 + $0)) }
                    #expect(map.rawUpdate(le32(1), all, flags: bpfAny) == 0)
                    for cpu in 0..<cpus { #expect(map.rawLookup(le32(1), cpu: cpu) == le32(UInt32(100 + cpu))) }
                    #expect(try map.lookup(key: le32(1)) == all)
                    // Program semantics: only the running CPU's slot changes.
                    #expect(map.rawUpdate(le32(1), le32(7), flags: bpfAny, cpu: cpus - 1) == 0)
                    #expect(map.rawLookup(le32(1), cpu: cpus - 1) == le32(7))
                    if cpus > 1 { #expect(map.rawLookup(le32(1), cpu: 0) == le32(100)) }
                    #expect(map.rawLookup(le32(1), cpu: cpus) == nil)
                    #expect(map.rawUpdate(le32(1), le32(7), flags: bpfAny, cpu: cpus) == -EINVAL)
                    let contents = try map.contents()
                    #expect(contents.valuesPerEntry == cpus)
                }
                // A new per-CPU hash entry written by a program zeroes the other CPUs.
                let hash = try segment.map(at: 4)
                #expect(hash.rawUpdate(le32(9), le32(5), flags: bpfAny, cpu: 0) == 0)
                #expect(try hash.lookup(key: le32(9)) == le32(5) + [UInt8](repeating: 0, count: 4 * (hash.cpuCount - 1)))
                #expect(segment.check() == [])
            }
        }

        @Test func lruEvictsLeastRecentlyUsed() throws {
            try withSegment { segment in
                try segment.apply([mapRecord(3, .lruHash, max: 3), mapRecord(4, .lruPercpuHash, value: 4, max: 2)])
                let map = try segment.map(at: 3)
                for k: UInt32 in 1...3 { #expect(map.rawUpdate(le32(k), le64(UInt64(k)), flags: bpfAny) == 0) }
                #expect(map.rawLookup(le32(1)) == le64(1), "touch 1: now 2 is the least recently used")
                #expect(map.rawUpdate(le32(4), le64(4), flags: bpfAny) == 0, "an LRU map evicts instead of failing")
                #expect(map.rawLookup(le32(2)) == nil)
                #expect(map.rawLookup(le32(1)) == le64(1) && map.rawLookup(le32(3)) == le64(3) && map.rawLookup(le32(4)) == le64(4))
                #expect(map.count == 3)
                for k: UInt32 in 5...40 { #expect(map.rawUpdate(le32(k), le64(UInt64(k)), flags: bpfAny) == 0) }
                #expect(map.count == 3 && map.rawLookup(le32(40)) == le64(40))
                let percpu = try segment.map(at: 4)
                let value = [UInt8](repeating: 1, count: 4 * percpu.cpuCount)
                for k: UInt32 in 1...5 { #expect(percpu.rawUpdate(le32(k), value, flags: bpfAny) == 0) }
                #expect(percpu.count == 2 && percpu.rawLookup(le32(5)) != nil)
                #expect(segment.check() == [])
            }
        }

        @Test func queueAndStackOrder() throws {
            try withSegment { segment in
                try segment.apply([mapRecord(3, .queue, key: 0, value: 4, max: 3), mapRecord(4, .stack, key: 0, value: 4, max: 3)])
                let queue = try segment.map(at: 3), stack = try segment.map(at: 4)
                for map in [queue, stack] {
                    #expect(try map.pop() == nil)
                    for v: UInt32 in 1...3 { try map.push(value: le32(v)) }
                    #expect(throws: SegmentError.mapOperation(fd: map.fd, operation: "push", errno: E2BIG)) { try map.push(value: le32(4)) }
                    #expect(throws: SegmentError.mapOperation(fd: map.fd, operation: "push", errno: EINVAL)) { try map.push(value: le32(4), flags: bpfNoExist) }
                    try map.push(value: le32(4), flags: bpfExist) // drops the oldest (1)
                    #expect(try map.contents().values == le32(2) + le32(3) + le32(4))
                }
                #expect(try queue.peek() == le32(2))
                #expect(try [queue.pop(), queue.pop(), queue.pop(), queue.pop()] == [le32(2), le32(3), le32(4), nil])
                #expect(try stack.peek() == le32(4))
                #expect(try [stack.pop(), stack.pop(), stack.pop(), stack.pop()] == [le32(4), le32(3), le32(2), nil])
                #expect(throws: SegmentError.noData(fd: 3, kind: "queue")) { try queue.lookup(key: le32(0)) }
                #expect(segment.check() == [])
            }
        }

        @Test func ringbufRecords() throws {
            try withSegment { segment in
                try segment.apply([mapRecord(3, .ringbuf, key: 0, value: 0, max: 64)])
                let ring = try segment.map(at: 3)
                #expect(ring.query(1) == 64)
                let first = try #require(ring.reserve(10))
                first.copyMemory(from: [UInt8](repeating: 0xAB, count: 10), byteCount: 10)
                let second = try #require(ring.reserve(4))
                #expect(ring.query(0) == 40, "two records: 8+16 and 8+8 bytes")
                #expect(ring.submit(second) == 0)
                #expect(try ring.ringbufRecords() == [], "a busy record holds back later ones, as in the kernel")
                #expect(ring.submit(first) == 0)
                #expect(ring.submit(first) == -EINVAL, "already submitted")
                #expect(try ring.ringbufRecords(consume: true).map(\.count) == [10, 4])
                #expect(ring.query(0) == 0)
                #expect(ring.reserve(100) == nil, "larger than the ring")
                let discarded = try #require(ring.reserve(8))
                #expect(ring.discard(discarded) == 0)
                // Wrapping: a record that would cross the end is preceded by padding.
                for i in 0..<10 {
                    let byte = UInt8(i)
                    #expect([byte, byte, byte].withUnsafeBytes { ring.output($0.baseAddress!, size: 3) } == 0)
                    #expect(try ring.ringbufRecords(consume: true) == [[byte, byte, byte]])
                }
                var filled = 0
                while [UInt8](repeating: 0, count: 8).withUnsafeBytes({ ring.output($0.baseAddress!, size: 8) }) == 0 { filled += 1 }
                #expect(filled >= 3 && filled <= 4)
                #expect(segment.check() == [])
            }
        }

        @Test func progArrayAndPerfEventArrayAndUnknownTypes() throws {
            try withSegment { segment in
                try segment.apply([
                    mapRecord(3, .progArray, value: 4, max: 4),
                    mapRecord(4, .perfEventArray, value: 4, max: 4),
                    HandlerRecord(fd: 5, handler: .map(MapHandler(name: "odd", attributes: MapAttributes(mapType: 31, keySize: 4, valueSize: 4, maxEntries: 1)))),
                    HandlerRecord(fd: 8, handler: .program(ProgramHandler(name: "p", type: 0, bytecode: ApplyTests.exit))),
                ])
                let progs = try segment.map(at: 3)
                #expect(progs.rawLookup(le32(1)) == nil, "empty slot")
                #expect(progs.rawDelete(le32(1)) == -ENOENT)
                // A slot takes a program's fd only: not a map's, not an empty fd's.
                for notAProgram: UInt32 in [5, 7, 0xFFFF_FFFF] { #expect(progs.rawUpdate(le32(1), le32(notAProgram), flags: bpfAny) == -EINVAL) }
                #expect(progs.rawUpdate(le32(1), le32(8), flags: bpfAny) == 0)
                #expect(progs.rawLookup(le32(1)) == le32(8))
                #expect(try progs.contents().count == 1)
                #expect(progs.rawDelete(le32(1)) == 0 && progs.rawLookup(le32(1)) == nil)

                let perf = try segment.map(at: 4)
                #expect(perf.rawUpdate(le32(0), le32(1), flags: bpfAny) == -EOPNOTSUPP)
                #expect(throws: SegmentError.noData(fd: 4, kind: "perfEventArray")) { try perf.contents() }

                let odd = try segment.map(at: 5)
                #expect(odd.kind == nil && odd.rawLookup(le32(0)) == nil && odd.rawUpdate(le32(0), le32(1), flags: bpfAny) == -EOPNOTSUPP)
                #expect(throws: SegmentError.unsupportedMapType(fd: 5, mapType: 31)) { try odd.update(key: le32(0), value: le32(1)) }
                #expect(SegmentError.unsupportedMapType(fd: 5, mapType: 31).description.contains("cannot operate"))
                let records = try segment.records(includeContents: true)
                #expect(records.count == 4)
                guard case .map(let stored) = records[2].handler else { Issue.record("fd 5 is not a map"); return }
                #expect(stored.attributes.mapType == 31 && stored.contents == nil)
                #expect(throws: SegmentError.notAMap(fd: 6, kind: "bpf_prog_handler")) {
                    try segment.apply([HandlerRecord(fd: 6, handler: .program(ProgramHandler(name: "p", type: 1, bytecode: [0x95, 0, 0, 0, 0, 0, 0, 0])))])
                    _ = try segment.map(at: 6)
                }
                #expect(segment.check() == [])
            }
        }

        @Test func generationsCountMutations() throws {
            try withSegment { segment in
                let g0 = segment.generation, t0 = segment.tableGeneration
                try segment.apply([mapRecord(3, .hash)])
                #expect(segment.tableGeneration == t0 + 1 && segment.generation > g0)
                let map = try segment.map(at: 3)
                let g1 = segment.generation
                #expect(map.rawUpdate(le32(1), le64(1), flags: bpfAny) == 0)
                #expect(segment.generation == g1 + 1 && segment.tableGeneration == t0 + 1)
                #expect(map.rawUpdate(le32(1), le64(1), flags: bpfNoExist) == -EEXIST)
                #expect(segment.generation == g1 + 1, "a refused update changes nothing")
                // A map replaced by one of the same definition keeps its storage (an in-place
                // apply): the handle sees the new contents. Another definition is new storage,
                // and the handle notices its map was replaced.
                try segment.apply([mapRecord(3, .hash)], replaceExisting: true)
                #expect(try map.lookup(key: le32(1)) == nil)
                try segment.apply([mapRecord(3, .hash, max: 32)], replaceExisting: true)
                #expect(map.rawUpdate(le32(1), le64(1), flags: bpfAny) == -ESTALE)
                #expect(throws: SegmentError.stale(fd: 3)) { try map.lookup(key: le32(1)) }
            }
        }
    }
}

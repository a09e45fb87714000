@testable import BPFSegment
import BPFModel
import Glibc
import Testing

extension SegmentTests {
    /// check() finds injected corruption; reading a corrupt segment fails cleanly, never traps.
    @Suite struct CheckTests {
        private func withState(_ body: (Segment, MapStore) throws -> Void) throws {
            try withSegment { segment in
                try segment.apply(ApplyTests.state() + [mapRecord(13, .lruHash, max: 8), mapRecord(14, .queue, key: 0, value: 4, max: 4)])
                let map = try segment.map(at: 13)
                for k: UInt32 in 0..<6 { #expect(map.rawUpdate(le32(k), le64(1), flags: bpfAny) == 0) }
                #expect(segment.check() == [])
                let hash = try #require(try segment.map(at: 3).store)
                try body(segment, hash)
            }
        }

        @Test func detectsBrokenHashChain() throws {
            try withState { segment, hash in
                let bucket = (0..<hash.layout.bucketCount).first { hash.buckets.u32($0 * 4) != 0 } ?? 0
                hash.buckets.set32(bucket * 4, 60)
                let problems = segment.check()
                #expect(problems.contains { $0.contains("map fd 3") && $0.contains("never allocated") }, "\(problems)")
                // Lookups on the corrupt map stay memory-safe.
                let map = try segment.map(at: 3)
                for k: UInt32 in 0..<64 { _ = map.rawLookup(le32(k)) }
            }
        }

        @Test func detectsChainCycleAndWrongCount() throws {
            try withState { segment, hash in
                let bucket = try #require((0..<hash.layout.bucketCount).first { hash.buckets.u32($0 * 4) != 0 })
                let index = hash.buckets.u32(bucket * 4)
                hash.entry(index).set32(0, index) // the entry points at itself
                hash.setState(MapLayout.countAt, 99)
                let problems = segment.check()
                #expect(problems.contains { $0.contains("reached twice") })
                #expect(problems.contains { $0.contains("count is 99") })
                _ = try segment.map(at: 3).rawUpdate(le32(1000), le64(1), flags: bpfAny) // terminates
            }
        }

        @Test func detectsBrokenLRUListAndQueueState() throws {
            try withState { segment, _ in
                let lru = try #require(try segment.map(at: 13).store)
                lru.setState(MapLayout.lruTailAt, 0)
                let queue = try #require(try segment.map(at: 14).store)
                queue.setState(MapLayout.headAt, 1000)
                let problems = segment.check()
                #expect(problems.contains { $0.contains("map fd 13") && $0.contains("LRU list is broken") })
                #expect(problems.contains { $0.contains("map fd 14") && $0.contains("out of range") })
                #expect(throws: SegmentError.mapOperation(fd: 14, operation: "pop/peek", errno: EFAULT)) { _ = try segment.map(at: 14).pop() }
            }
        }

        @Test func detectsHeapAndTableDamage() throws {
            try withState { segment, _ in
                let allocator = Allocator(segment.header)
                // A leaked block: allocated, referenced by nothing.
                let leaked = allocator.allocate(100)
                #expect(segment.check().contains { $0.contains("leak") })
                if let leaked { allocator.free(leaked) }
                #expect(segment.check() == [])
                // A slot pointing into the middle of nowhere.
                segment.table.setSlot(30, segment.header.heapOffset + 8)
                var problems = segment.check()
                #expect(problems.contains { $0.contains("fd 30") && $0.contains("not an allocated block") })
                #expect(problems.contains { $0.contains("handler count") })
                #expect(throws: SegmentError.self) { try segment.records(includeContents: false) }
                segment.table.setSlot(30, 0)
                // A link referring to an fd whose slot was cleared behind the tool's back (a
                // program's attach_fds may dangle, as in bpftime: not a problem).
                let perfEvent = segment.table.slot(5)
                segment.table.setSlot(5, 0)
                problems = segment.check()
                #expect(problems.contains { $0.contains("fd 6") && $0.contains("refers to fd 5") })
                #expect(!problems.contains { $0.contains("fd 4") && $0.contains("refers to fd 5") })
                segment.table.setSlot(5, perfEvent)
                #expect(segment.check() == [])
                // A free list that leads into a used block.
                let head = Header.freeListsAt + 8 * (Header.freeListCount - 1)
                let saved = segment.base.u64(head)
                segment.base.set64(head, UInt64(segment.table.slot(3) - Allocator.headerBytes))
                problems = segment.check()
                #expect(problems.contains { $0.contains("free list 63") && $0.contains("not a free block") }, "\(problems)")
                segment.base.set64(head, saved)
                #expect(segment.check() == [])
                // A block size that breaks the heap's tiling.
                segment.base.set64(segment.header.heapOffset, 24)
                problems = segment.check()
                #expect(problems.contains { $0.contains("invalid size") })
            }
        }

        @Test func detectsJournalAndIntentLeftovers() throws {
            try withState { segment, hash in
                hash.journal.save(hash.storage, 8)
                segment.header.intent = 4096
                let problems = segment.check()
                #expect(problems.contains { $0.contains("undo journal") })
                #expect(problems.contains { $0.contains("pending") })
            }
        }

        /// Random writes into copies of a populated segment: opening, checking, reading and
        /// writing must end in a result or an error, never a crash or a hang.
        @Test func survivesRandomCorruption() throws {
            try withState { segment, _ in
                let size = segment.shm.size
                var generator = SystemRandomNumberGenerator()
                var reported = 0
                for round in 0..<150 {
                    let name = uniqueName()
                    let copy = try SharedMemory.create(name: name, size: size, mode: 0o600)
                    defer { try? Segment.remove(name: name) }
                    copy.base.copyMemory(from: segment.base, byteCount: size)
                    let writes = round % 3 == 0 ? 1 : Int.random(in: 2...40, using: &generator)
                    for _ in 0..<writes {
                        // Anywhere but the mutex: a forged lock owner is the kernel's business.
                        var at = round % 5 == 0 ? Int.random(in: 0..<4096, using: &generator) : Int.random(in: 0..<segment.header.heapOffset + 64 * 1024, using: &generator)
                        if (Header.mutexAt..<Header.mutexAt + 64).contains(at) { at = Header.mutexAt + 64 }
                        copy.base.storeBytes(of: UInt8.random(in: 0...255, using: &generator), toByteOffset: at, as: UInt8.self)
                    }
                    guard let opened = try? Segment.open(name: name) else { reported += 1; continue }
                    if !opened.check().isEmpty { reported += 1 }
                    _ = try? opened.records(includeContents: true)
                    for fd in 0..<20 {
                        guard let map = try? opened.map(at: fd) else { continue }
                        _ = try? map.contents()
                        _ = map.rawUpdate(le32(3), [UInt8](repeating: 1, count: map.userValueSize), flags: bpfAny)
                        _ = map.rawLookup(le32(3))
                    }
                    _ = try? opened.apply([mapRecord(40, .hash)])
                }
                #expect(reported > 0)
            }
        }
    }
}

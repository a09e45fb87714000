@testable import BPFSegment
import BPFModel
import Glibc
import Synchronization
import Testing

extension SegmentTests {
    /// The segment lock is fair: a process that locks now and then is not starved by processes
    /// relocking in a loop, and the ticket queue in front of the mutex cannot wedge the lock.
    @Suite struct LockFairnessTests {
        /// A child relocks in a loop, holding the lock 50 µs at a time and letting go for only an
        /// instant (a plain mutex hands it straight back to the child: a sleeping waiter wakes to
        /// find it taken again), until the parent is done or 8 s passed; each of the parent's 50
        /// locked reads must come within a second.
        @Test func aToolIsNotStarvedByAProcessRelockingInALoop() throws {
            try withSegment { segment in
                try segment.apply([mapRecord(3, .hash, max: 64)])
                let stop = mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)!
                defer { munmap(stop, 4096) }
                let flag = stop.assumingMemoryBound(to: Atomic<UInt64>.self)
                let child = Child.start { ready in
                    let started = now()
                    ready()
                    while flag.pointee.load(ordering: .relaxed) == 0 && now() - started < 8 {
                        guard Self.hold(segment, seconds: 50e-6) else { return 11 }
                    }
                    return 0
                }
                #expect(child.waitReady())
                usleep(10_000)
                var waits: [Double] = []
                for _ in 0..<50 {
                    let start = now()
                    #expect(throws: Never.self) { try segment.handler(at: 3) }
                    waits.append(now() - start)
                    usleep(1000)
                }
                flag.pointee.store(1, ordering: .relaxed)
                #expect(child.wait() == 0)
                waits.sort()
                #expect(waits[49] < 1, "waits for the lock: median \(waits[25]) s, longest \(waits[49]) s")
            }
        }

        /// Holds the segment lock, busy, for `seconds`; false if it could not be had.
        static func hold(_ segment: Segment, seconds: Double) -> Bool {
            (try? segment.locked { () -> Void in
                let held = now()
                while now() - held < seconds {}
            }) != nil
        }

        /// A ticket taken by a process that died while queued is passed after a short stall.
        @Test func aTicketNobodyServesIsPassed() throws {
            try withSegment { segment in
                let next = segment.header.base.atomic64(Header.queueNextAt)
                next.pointee.wrappingAdd(1, ordering: .relaxed)
                let start = now()
                #expect(throws: Never.self) { try segment.records(includeContents: false) }
                #expect(now() - start < 5)
                #expect(next.pointee.load(ordering: .relaxed) == segment.header.base.atomic64(Header.queueServingAt).pointee.load(ordering: .relaxed),
                        "the queue is empty again")
            }
        }

        /// Garbage in the queue words (they sit outside the mutex's protection) costs at most one
        /// stall, and the first locker puts the queue right.
        @Test(arguments: [(UInt64(5), UInt64(1_000_005)), (UInt64(1_000_005), UInt64(5)), (UInt64.max, UInt64(3))])
        func garbageInTheQueueWordsHeals(next: UInt64, serving: UInt64) throws {
            try withSegment { segment in
                let nextWord = segment.header.base.atomic64(Header.queueNextAt)
                let servingWord = segment.header.base.atomic64(Header.queueServingAt)
                nextWord.pointee.store(next, ordering: .relaxed)
                servingWord.pointee.store(serving, ordering: .relaxed)
                let start = now()
                #expect(throws: Never.self) { try segment.records(includeContents: false) }
                #expect(now() - start < 5)
                #expect(nextWord.pointee.load(ordering: .relaxed) == servingWord.pointee.load(ordering: .relaxed))
            }
        }
    }
}

@testable import BPFSegment
import BPFModel
import Glibc
import Synchronization
import Testing

extension SegmentTests {
    /// The segment lock is fair: a process that locks now and then is not starved by processes
    /// relocking in a loop, and the ticket queue in front of the mutex cannot wedge the lock.
    @Suite struct LockFairnessTests {
        /// Two children relock in a loop, each holding the lock a few microseconds (as targets
        /// whose hooks update maps keep it held nearly all the time between them) until the
        /// parent is done; each of the parent's 200 locked reads must come within a second.
        @Test func aToolIsNotStarvedByProcessesRelockingInALoop() throws {
            try withSegment { segment in
                try segment.apply([mapRecord(3, .hash, max: 64)])
                let stop = mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)!
                defer { munmap(stop, 4096) }
                let flag = stop.assumingMemoryBound(to: Atomic<UInt64>.self)
                let children = (0..<2).map { _ in
                    Child.start { ready in
                        let started = now()
                        ready()
                        while flag.pointee.load(ordering: .relaxed) == 0 && now() - started < 10 {
                            guard Self.hold(segment, seconds: 3e-6) else { return 11 }
                        }
                        return 0
                    }
                }
                for child in children { #expect(child.waitReady()) }
                var waits: [Double] = []
                for _ in 0..<200 {
                    let start = now()
                    #expect(throws: Never.self) { try segment.handler(at: 3) }
                    waits.append(now() - start)
                    usleep(1000)
                }
                flag.pointee.store(1, ordering: .relaxed)
                for child in children { #expect(child.wait() == 0) }
                waits.sort()
                #expect(waits[199] < 1, "waits for the lock: median \(waits[100]) s, p99 \(waits[198]) s, longest \(waits[199]) s")
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

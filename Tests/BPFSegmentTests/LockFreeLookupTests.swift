@testable import BPFSegment
import BPFModel
import Glibc
import Synchronization
import Testing

extension SegmentTests {
    /// Hash lookups read without the lock, checked against the lock's sequence: they must see
    /// what a locked lookup sees, whatever another process does to the chains meanwhile.
    @Suite struct LockFreeLookupTests {
        @Test func theSequenceIsOddExactlyWhileTheLockIsHeld() throws {
            try withSegment { segment in
                let mutex = segment.mutex
                let before = try #require(mutex.stableSequence())
                #expect(before % 2 == 0)
                try segment.locked { #expect(mutex.stableSequence() == nil) }
                #expect(mutex.stableSequence() == before + 2)
                #expect(!mutex.unchanged(since: before), "a locker ran since `before`")
                #expect(mutex.unchanged(since: before + 2))
            }
        }

        /// Keys 0..<8 of two buckets stay put; a child inserts and deletes keys of the same two
        /// buckets as fast as it can, so freed entries move between the chains while the parent
        /// walks them. Every lookup must find each resident key with its value, and no absent key.
        @Test func lookupsSeeResidentKeysWhileAnotherProcessRewritesTheirChains() throws {
            try withSegment { segment in
                try segment.apply([mapRecord(3, .hash, max: 64)])
                let map = try segment.map(at: 3)
                let buckets = try #require(map.store).layout.bucketCount
                func bucket(_ key: UInt32) -> Int { Int(KeyHash.hash(le32(key), 4)) & (buckets - 1) }
                let (first, second) = (bucket(0), bucket(1))
                let keys = Array((UInt32(2)...).lazy.filter { [first, second].contains(bucket($0)) }.prefix(57))
                let (resident, churn, absent) = (keys[0..<8], keys[8..<56], keys[56])
                for key in resident { #expect(map.rawUpdate(le32(key), le64(UInt64(key) * 7), flags: bpfNoExist) == 0) }

                let stop = mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)!
                defer { munmap(stop, 4096) }
                let flag = stop.assumingMemoryBound(to: Atomic<UInt64>.self)
                let name = segment.name
                let child = Child.start { ready in
                    guard let other = try? Segment.open(name: name), let m = try? other.map(at: 3) else { return 10 }
                    ready()
                    var round = 0
                    while flag.pointee.load(ordering: .relaxed) == 0 && round < 2_000_000 {
                        // Deleting in another order than inserting shuffles the free list.
                        for key in churn { guard m.rawUpdate(le32(key), le64(0), flags: bpfNoExist) == 0 else { return 11 } }
                        for key in churn.reversed() where key % 3 != 0 { guard m.rawDelete(le32(key)) == 0 else { return 12 } }
                        for key in churn where key % 3 == 0 { guard m.rawDelete(le32(key)) == 0 else { return 13 } }
                        round += 1
                    }
                    return 0
                }
                #expect(child.waitReady())
                var wrong = 0, lookups = 0
                // The batch form too, on the same sequence checks: the resident keys' values, then nothing.
                let batchKeys = (resident + [absent]).flatMap { le32($0) }
                let batchValues = resident.flatMap { le64(UInt64($0) * 7) } + le64(0)
                var values = [UInt8](repeating: 0, count: batchValues.count), found = [Bool](repeating: false, count: resident.count + 1)
                let started = now()
                while now() - started < 1.5 {
                    for key in resident where map.rawLookup(le32(key)) != le64(UInt64(key) * 7) { wrong += 1 }
                    if map.rawLookup(le32(absent)) != nil { wrong += 1 }
                    values = [UInt8](repeating: 0, count: batchValues.count)
                    let hits = batchKeys.withUnsafeBytes { k in
                        values.withUnsafeMutableBytes { v in found.withUnsafeMutableBufferPointer { map.lookup(keys: k, values: v, found: $0) } }
                    }
                    if hits != resident.count || values != batchValues || found != Array(repeating: true, count: resident.count) + [false] { wrong += 1 }
                    lookups += 2 * (resident.count + 1)
                }
                flag.pointee.store(1, ordering: .relaxed)
                #expect(child.wait() == 0)
                #expect(wrong == 0, "\(wrong) of \(lookups) lookups saw a chain mid-change")
                #expect(segment.check() == [])
            }
        }

        /// Builds before layout version 2 lock the mutex without moving the sequence, so a
        /// lookup reading past such a locker could keep a chain read mid-change. Such a build
        /// refuses a version 2 segment; in a version 1 segment, which it may have open, lookups
        /// take the lock. A child plays the older build: it holds the mutex alone for 0.5 s.
        @Test func lookupsInAVersionOneSegmentTakeTheLock() throws {
            try withSegment { segment in
                try segment.apply([mapRecord(3, .hash, max: 16)])
                #expect(try segment.map(at: 3).rawUpdate(le32(5), le64(55), flags: bpfNoExist) == 0)
                /// Seconds a lookup took while the child held the mutex.
                func lookupBesideAnOlderBuildsLocker(_ map: SegmentMap) -> Double {
                    let child = Child.start { ready in
                        guard pthread_mutex_lock(segment.mutex.mutex) == 0 else { return 10 }
                        ready()
                        usleep(500_000)
                        return pthread_mutex_unlock(segment.mutex.mutex) == 0 ? 0 : 11
                    }
                    guard child.waitReady() else { return -1 }
                    let started = now()
                    #expect(map.rawLookup(le32(5)) == le64(55))
                    let seconds = now() - started
                    #expect(child.wait() == 0)
                    return seconds
                }
                #expect(segment.header.lockersKeepSequence, "a segment made now is version \(Header.layoutVersion)")
                #expect(lookupBesideAnOlderBuildsLocker(try segment.map(at: 3)) < 0.25, "version 2: the lookup reads past the locker")

                segment.base.set32(Header.versionAt, 1)
                let reopened = try Segment.open(name: segment.name)
                #expect(lookupBesideAnOlderBuildsLocker(try reopened.map(at: 3)) >= 0.3, "version 1: the lookup waits for the lock")
                #expect(reopened.check() == [])
            }
        }

        /// A holder that died leaves the sequence odd: lookups then take the lock, which repairs
        /// the segment, and read without it again afterwards.
        @Test func aHolderThatDiedSendsLookupsToTheLock() throws {
            try withSegment { segment in
                try segment.apply([mapRecord(3, .hash, max: 16)])
                let map = try segment.map(at: 3)
                #expect(map.rawUpdate(le32(5), le64(55), flags: bpfNoExist) == 0)
                let child = Child.start { ready in
                    _ = try? segment.locked { ready(); parkForever() }
                    return 3
                }
                #expect(child.waitReady())
                #expect(child.kill() == 128 + SIGKILL)
                #expect(segment.mutex.stableSequence() == nil, "the dead holder left the sequence odd")
                #expect(map.rawLookup(le32(5)) == le64(55))
                #expect(segment.status().recoveries == 1, "the lookup took the lock and repaired the segment")
                #expect(segment.mutex.stableSequence() != nil)
            }
        }
    }
}

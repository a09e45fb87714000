@testable import BPFSegment
import BPFModel
import Glibc
import Testing

extension SegmentTests {
    /// A real child process is SIGKILLed while it holds the segment lock, in the middle of a
    /// mutation; the parent must get the lock within a bounded time and find a consistent segment.
    @Suite struct CrashRecoveryTests {
        /// Forks a child that runs `mutation` and parks at `point` (lock held, mutation half
        /// done), kills it there, then locks from the parent. Returns the seconds the lock took.
        private func killChild(at point: CrashPoint, _ mutation: @escaping () -> Void) -> Double? {
            let child = Child.start { ready in
                crashPointHook = { reached in
                    if reached == point { ready(); parkForever() }
                }
                mutation()
                return 3 // the crash point was not reached
            }
            guard child.waitReady() else {
                Issue.record("child never reached \(point) (exit \(child.kill()))")
                return nil
            }
            #expect(child.kill() == 128 + SIGKILL)
            return now()
        }

        private func expectRecovered(_ segment: Segment, since killed: Double?) {
            guard let killed else { return }
            let problems = segment.check() // takes the lock: recovery runs here
            #expect(now() - killed < 5, "the lock was taken over promptly")
            #expect(problems == [])
            #expect(segment.status().recoveries == 1)
        }

        @Test func killedMidHashInsertIsRolledBack() throws {
            try withSegment { segment in
                try segment.apply([mapRecord(3, .lruHash, max: 4, contents: MapContents(keySize: 4, valueSize: 8, keys: le32(1) + le32(2) + le32(3) + le32(4), values: (1...4).flatMap { le64(UInt64($0)) }))])
                let map = try segment.map(at: 3)
                let before = try segment.records(includeContents: true)
                // The map is full: this insert evicts, then links the new entry and dies.
                let killed = killChild(at: .hashEntryLinked) { _ = map.rawUpdate(le32(9), le64(9), flags: bpfAny) }
                expectRecovered(segment, since: killed)
                #expect(try segment.records(includeContents: true) == before)
                #expect(map.rawUpdate(le32(9), le64(9), flags: bpfAny) == 0, "the map works after recovery")
                #expect(map.count == 4 && segment.check() == [])
            }
        }

        @Test func killedMidArrayWriteIsRolledBack() throws {
            try withSegment { segment in
                try segment.apply([mapRecord(3, .array, value: 64, max: 4)])
                let map = try segment.map(at: 3)
                #expect(map.rawUpdate(le32(1), [UInt8](repeating: 1, count: 64), flags: bpfAny) == 0)
                let killed = killChild(at: .arrayValueWritten) { _ = map.rawUpdate(le32(1), [UInt8](repeating: 2, count: 64), flags: bpfAny) }
                expectRecovered(segment, since: killed)
                #expect(map.rawLookup(le32(1)) == [UInt8](repeating: 1, count: 64), "no torn value")
            }
        }

        @Test func killedBeforePublishingAnApplyLeavesTheOldTable() throws {
            try withSegment { segment in
                try segment.apply(ApplyTests.state())
                let before = try segment.records(includeContents: true), used = segment.status().usedBytes
                let killed = killChild(at: .applyBuilt) {
                    _ = try? segment.apply([mapRecord(20, .hash, max: 1000), mapRecord(3, .array)], removing: [7], replaceExisting: true)
                }
                expectRecovered(segment, since: killed)
                #expect(try segment.records(includeContents: true) == before)
                #expect(segment.status().usedBytes == used, "the half-built blocks were reclaimed")
            }
        }

        @Test func killedWhileSwitchingSlotsFinishesTheApply() throws {
            try withSegment { segment in
                try segment.apply(ApplyTests.state())
                let killed = killChild(at: .applySwitching) {
                    _ = try? segment.apply([mapRecord(20, .hash, max: 1000), mapRecord(3, .array)], removing: [7], replaceExisting: true)
                }
                expectRecovered(segment, since: killed)
                let records = try segment.records(includeContents: false)
                #expect(records.map(\.fd) == [3, 4, 5, 6, 8, 9, 10, 11, 12, 20])
                #expect(try segment.map(at: 3).kind == .array && segment.map(at: 20).kind == .hash)
            }
        }

        /// Kills a child hammering an LRU map at random moments; whatever it was doing, the
        /// segment must check clean afterwards and stay usable.
        @Test func randomKillsDuringUpdates() throws {
            try withSegment(sizeMB: 8) { segment in
                try segment.apply([mapRecord(3, .lruHash, max: 512), mapRecord(4, .queue, key: 0, value: 8, max: 64)])
                let map = try segment.map(at: 3), queue = try segment.map(at: 4)
                var heldLockAtDeath = 0
                for round in 0..<8 {
                    let child = Child.start { ready in
                        var k: UInt32 = UInt32(round) &* 7919
                        ready()
                        while true {
                            k = k &* 1_103_515_245 &+ 12345
                            _ = map.rawUpdate(le32(k % 2000), le64(UInt64(k)), flags: bpfAny)
                            if k % 3 == 0 { _ = map.rawDelete(le32((k >> 8) % 2000)) }
                            _ = map.rawLookup(le32((k >> 4) % 2000))
                            _ = queue.rawPush(le64(UInt64(k)), flags: bpfExist)
                        }
                    }
                    #expect(child.waitReady())
                    usleep(UInt32.random(in: 2_000...20_000))
                    _ = child.kill()
                    let recoveries = segment.header.recoveries // read without locking: locking would recover
                    #expect(segment.check() == [], "round \(round)")
                    if segment.status().recoveries > recoveries { heldLockAtDeath += 1 }
                    #expect(map.rawUpdate(le32(1), le64(1), flags: bpfAny) == 0)
                }
                #expect(heldLockAtDeath > 0, "at least one child died holding the lock")
            }
        }
    }
}

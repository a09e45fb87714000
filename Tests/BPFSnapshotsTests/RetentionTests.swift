import BPFSnapshots
import Foundation
import Testing

/// `snap prune`'s decisions, as restic's forget makes them.
@Suite struct RetentionTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)  // 2027-01-15 08:00:00 UTC

    /// Snapshot i taken `ages[i]` seconds before `now`, of segment `a` unless named.
    static func snapshots(_ ages: [TimeInterval], segment: (Int) -> String = { _ in "a" }, tagged: Set<Int> = []) -> [SnapshotInfo] {
        ages.enumerated().map { i, age in
            SnapshotInfo(id: Int64(i + 1), createdAt: now.addingTimeInterval(-age), segmentName: segment(i), host: "h",
                         generation: 0, message: nil, tags: tagged.contains(i + 1) ? ["t"] : [], parent: nil, handlerCount: 0)
        }
    }

    static func kept(_ policy: RetentionPolicy, _ snapshots: [SnapshotInfo]) -> [Int64] {
        policy.decide(snapshots, now: now).filter { !$0.reasons.isEmpty }.map(\.snapshot.id).sorted()
    }

    @Test func keepLastKeepsTheNewestOfEachSegment() {
        let s = Self.snapshots([500, 400, 300, 200, 100, 50], segment: { $0 < 4 ? "a" : "b" })
        #expect(Self.kept(RetentionPolicy(keepLast: 2), s) == [3, 4, 5, 6])
        #expect(Self.kept(RetentionPolicy(keepLast: 0), s) == [])
    }

    @Test func hourlyAndDailyKeepTheNewestOfEachPeriodThatHasOne() {
        let hour = 3600.0
        // Two in the current hour (08:xx), one at 06:xx, two at 05:xx, one the day before.
        let s = Self.snapshots([25 * hour, 2.9 * hour, 2.5 * hour, 1.5 * hour, 0.2 * hour, 0.1 * hour].map { $0 - 60 })
        #expect(Self.kept(RetentionPolicy(keepHourly: 3), s) == [3, 4, 6])
        #expect(Self.kept(RetentionPolicy(keepDaily: 2), s) == [1, 6])
        // Rules combine with "or".
        #expect(Self.kept(RetentionPolicy(keepLast: 1, keepDaily: 2), s) == [1, 6])
        #expect(Self.kept(RetentionPolicy(keepLast: 2, keepHourly: 1), s) == [5, 6])
    }

    @Test func olderThanAndTagsProtect() {
        let day = 86400.0
        let s = Self.snapshots([10 * day, 8 * day, 3 * day, 1 * day], tagged: [1])
        #expect(Self.kept(RetentionPolicy(olderThan: 7 * day), s) == [1, 3, 4])
        #expect(Self.kept(RetentionPolicy(olderThan: 7 * day, includeTagged: true), s) == [3, 4])
        #expect(Self.kept(RetentionPolicy(keepLast: 1, olderThan: 2 * day, includeTagged: true), s) == [4])
        let reasons = RetentionPolicy(keepLast: 1, olderThan: 7 * day).decide(s, now: Self.now)
        #expect(reasons.first { $0.snapshot.id == 4 }?.reasons == ["last 1", "newer than the limit"])
        #expect(reasons.first { $0.snapshot.id == 1 }?.reasons == ["tagged"])
        #expect(RetentionPolicy().isEmpty && !RetentionPolicy(olderThan: 1).isEmpty)
    }
}

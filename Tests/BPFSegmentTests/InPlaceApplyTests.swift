@testable import BPFSegment
import BPFModel
import Glibc
import Testing

extension SegmentTests {
    /// A map replaced by one of the same definition keeps its storage: only the entries that
    /// differ are written, through the undo journal.
    @Suite struct InPlaceApplyTests {
        static func contents(_ pairs: [(UInt32, UInt64)]) -> MapContents {
            var c = MapContents(keySize: 4, valueSize: 8)
            for (k, v) in pairs { c.append(key: le32(k), value: le64(v)) }
            return c
        }

        @Test(arguments: [MapKind.hash, .lruHash, .percpuHash, .array])
        func sameDefinitionIsReplacedInPlace(_ kind: MapKind) throws {
            try withSegment { segment in
                let cpus = kind.isPerCPU ? segment.status().cpuCount : 1
                func entries(_ pairs: [(UInt32, UInt64)]) -> MapContents {
                    var c = MapContents(keySize: 4, valueSize: 8, valuesPerEntry: cpus)
                    for (k, v) in pairs { c.append(key: le32(k), value: (0 ..< cpus).flatMap { _ in le64(v) }) }
                    return c
                }
                let old = kind == .array ? [(0, 1), (1, 2), (2, 3), (3, 4)] : [(0, 1), (1, 2), (2, 3)] as [(UInt32, UInt64)]
                let new = kind == .array ? [(0, 1), (1, 9), (2, 3), (3, 0)] : [(1, 9), (2, 3), (3, 4)] as [(UInt32, UInt64)]
                try segment.apply([mapRecord(3, kind, max: 4, contents: entries(old))])
                let opened = try segment.map(at: 3)
                try segment.apply([mapRecord(3, kind, max: 4, contents: entries(new))], replaceExisting: true)
                #expect(try opened.contents() == segment.map(at: 3).contents(), "a map opened before sees the new entries: same storage")
                let read = try #require(try segment.handler(at: 3, includeContents: true))
                guard case .map(let map) = read, let got = map.contents else { Issue.record("no contents"); return }
                let want = entries(new)
                let gotEntries: Set<[UInt8]> = Set((0 ..< got.count).map { i in Array(got.key(at: i) + got.value(at: i)) })
                let wantEntries: Set<[UInt8]> = Set((0 ..< want.count).map { i in Array(want.key(at: i) + want.value(at: i)) })
                #expect(gotEntries == wantEntries)
                #expect(segment.check() == [])
            }
        }

        @Test func aRefusedDeltaIsRolledBack() throws {
            try withSegment { segment in
                try segment.apply([mapRecord(3, .hash, max: 4, contents: Self.contents([(1, 1), (2, 2)]))])
                let before = try segment.records(includeContents: true)
                // Key 2 changes, then a duplicate key is refused: the change to key 2 must not stay.
                #expect(throws: SegmentError.self) {
                    try segment.apply([mapRecord(3, .hash, max: 4, contents: Self.contents([(2, 5), (7, 1), (7, 2)]))], replaceExisting: true)
                }
                #expect(try segment.records(includeContents: true) == before)
                #expect(segment.check() == [])
            }
        }

        @Test func killedDuringAnInPlaceDeltaIsRolledBack() throws {
            try withSegment { segment in
                try segment.apply([mapRecord(3, .hash, max: 64, contents: Self.contents((0 ..< 40).map { ($0, UInt64($0)) }))])
                let before = try segment.records(includeContents: true)
                let child = Child.start { ready in
                    crashPointHook = { if $0 == .applyInPlace { ready(); parkForever() } }
                    _ = try? segment.apply([mapRecord(3, .hash, max: 64, contents: Self.contents((10 ..< 50).map { ($0, 7) }))],
                                           replaceExisting: true)
                    return 3
                }
                #expect(child.waitReady())
                #expect(child.kill() == 128 + SIGKILL)
                #expect(segment.check() == [])
                #expect(try segment.records(includeContents: true) == before)
            }
        }
    }
}

@testable import BPFSegment
import BPFModel
import Glibc
import Testing

extension SegmentTests {
    /// Several processes map the same segment by name.
    @Suite struct MultiProcessTests {
        @Test func secondProcessReadsWhatTheFirstWrote() throws {
            try withSegment { segment in
                try segment.apply(ApplyTests.state())
                let map = try segment.map(at: 3)
                try map.update(key: le32(77), value: le64(1234))
                let expected = try segment.records(includeContents: true)
                let name = segment.name
                let child = Child.start { _ in
                    guard let other = try? Segment.open(name: name), let m = try? other.map(at: 3) else { return 10 }
                    guard (try? m.lookup(key: le32(77))) == le64(1234) else { return 11 }
                    guard let records = try? other.records(includeContents: true), records == expected else { return 12 }
                    guard (try? m.update(key: le32(78), value: le64(5678))) != nil else { return 13 }
                    return 0
                }
                #expect(child.wait() == 0)
                #expect(try map.lookup(key: le32(78)) == le64(5678), "and the first sees what the second wrote")
            }
        }

        @Test func concurrentWritersKeepTheSegmentConsistent() throws {
            try withSegment(sizeMB: 8) { segment in
                try segment.apply([mapRecord(3, .hash, max: 20_000)])
                let name = segment.name
                let children = (0..<2).map { n in
                    Child.start { _ in
                        guard let other = try? Segment.open(name: name), let m = try? other.map(at: 3) else { return 10 }
                        for k in UInt32(n * 5000)..<UInt32(n * 5000 + 5000) {
                            guard m.rawUpdate(le32(k), le64(UInt64(k)), flags: bpfNoExist) == 0 else { return 11 }
                        }
                        return 0
                    }
                }
                let map = try segment.map(at: 3)
                for k: UInt32 in 10_000..<15_000 { #expect(map.rawUpdate(le32(k), le64(UInt64(k)), flags: bpfNoExist) == 0) }
                for child in children { #expect(child.wait() == 0) }
                #expect(map.count == 15_000)
                #expect(try map.contents().count == 15_000)
                #expect(segment.check() == [])
            }
        }

        /// Processes racing to open-or-create the same name all end up sharing one segment.
        @Test func racingOpenOrCreate() throws {
            let config = SegmentConfiguration(name: uniqueName(), sizeBytes: 2 << 20, maxHandlers: 64)
            defer { try? Segment.remove(name: config.name) }
            let children = (0..<4).map { n in
                Child.start { _ in
                    guard let segment = try? Segment.openOrCreate(config) else { return 10 }
                    guard (try? segment.apply([mapRecord(3 + n, .array)])) != nil else { return 11 }
                    return 0
                }
            }
            for child in children { #expect(child.wait() == 0) }
            let segment = try Segment.open(name: config.name)
            #expect(try segment.records(includeContents: false).map(\.fd) == [3, 4, 5, 6])
            #expect(segment.check() == [])
        }
    }
}

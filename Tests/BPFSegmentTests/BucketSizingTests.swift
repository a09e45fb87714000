@testable import BPFSegment
import BPFModel
import Testing

extension SegmentTests {
    /// Hash maps made in a layout version 3 segment get twice the kernel's bucket count, so a
    /// full map's chains are half as long; maps of version 2 segments keep the kernel's count,
    /// which the builds writing version 2 (that may have such a segment open) expect.
    @Suite struct BucketSizingTests {
        /// The entries a lookup of each present key walks, on average: a chain of c entries
        /// costs its keys 1 + 2 + ... + c. Keys 0..<1000 hash a little more evenly than random
        /// ones: 1.18 entries with doubled buckets, 1.35 with the kernel's count.
        static func averageWalk(_ store: MapStore) -> Double {
            var walked = 0
            for bucket in 0..<store.layout.bucketCount {
                var length = 0, index = store.buckets.u32(bucket * 4)
                while index != 0 { length += 1; index = store.entry(index).u32(MapStore.chainAt) }
                walked += length * (length + 1) / 2
            }
            return Double(walked) / Double(store.count)
        }

        static func fullMap(_ segment: Segment, fd: Int) throws -> MapStore {
            var contents = MapContents(keySize: 4, valueSize: 8)
            for key in UInt32(0)..<1000 { contents.append(key: le32(key), value: le64(UInt64(key) * 3)) }
            try segment.apply([mapRecord(fd, .hash, max: 1000, contents: contents)])
            return try #require(try segment.map(at: fd).store)
        }

        @Test func aFullMapWalksShorterChains() throws {
            try withSegment { segment in
                #expect(segment.header.hashBuckets == .double)
                let store = try Self.fullMap(segment, fd: 3)
                #expect(store.layout.bucketCount == 2048, "twice the next power of two >= 1000")
                let walk = Self.averageWalk(store)
                #expect(walk < 1.25, "1 + 0.49 / 2 entries per lookup expected of random keys, walked \(walk)")
                #expect(segment.check() == [])
            }
        }

        @Test func aVersionTwoSegmentKeepsTheKernelsCountAndOpensHere() throws {
            try withSegment { segment in
                segment.base.set32(Header.versionAt, 2)
                let reopened = try Segment.open(name: segment.name)
                #expect(reopened.header.hashBuckets == .single)
                let store = try Self.fullMap(reopened, fd: 3)
                #expect(store.layout.bucketCount == 1024, "the next power of two >= 1000, as the kernel")
                let walk = Self.averageWalk(store)
                #expect(walk > 1.3, "1 + 0.98 / 2 entries per lookup expected of random keys, walked \(walk)")

                // Such a map, however it came into a segment, is read and written here.
                segment.base.set32(Header.versionAt, Header.layoutVersion)
                let current = try Segment.open(name: segment.name)
                let map = try current.map(at: 3)
                #expect(map.rawLookup(le32(999)) == le64(2997))
                #expect(map.rawUpdate(le32(5), le64(55), flags: bpfExist) == 0)
                #expect(map.rawLookup(le32(5)) == le64(55))
                #expect(current.check() == [])
            }
        }

        @Test func aBucketCountOfNeitherSizingIsCorruption() throws {
            try withSegment { segment in
                let store = try Self.fullMap(segment, fd: 3)
                store.base.set64(store.storage + 48, 4096)
                #expect(segment.check().contains { $0.contains("map at fd 3") && $0.contains("storage header disagrees") })
                #expect(throws: SegmentError.self) { try segment.map(at: 3) }
            }
        }
    }
}

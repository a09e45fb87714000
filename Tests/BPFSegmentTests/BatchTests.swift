@testable import BPFSegment
import BPFModel
import Glibc
import Testing

extension SegmentTests {
    /// `lookup(keys:values:found:)` and `update(keys:values:flags:)`: what one key at a time
    /// does, over more keys than one chunk, with the misses of successive keys overlapped.
    @Suite struct BatchTests {
        /// Keys and values packed as the batch calls take them; `cpus` values per key.
        private func packed(_ keys: [UInt32], cpus: Int, value: (UInt32, Int) -> UInt64) -> (keys: [UInt8], values: [UInt8]) {
            (keys.flatMap { le32($0) }, keys.flatMap { key in (0..<cpus).flatMap { le64(value(key, $0)) } })
        }

        private func batchLookup(_ map: SegmentMap, _ keys: [UInt8], count: Int) -> (result: Int, values: [UInt8], found: [Bool]) {
            var values = [UInt8](repeating: 0xEE, count: count * map.userValueSize), found = [Bool](repeating: true, count: count)
            let result = keys.withUnsafeBytes { k in
                values.withUnsafeMutableBytes { v in found.withUnsafeMutableBufferPointer { map.lookup(keys: k, values: v, found: $0) } }
            }
            return (result, values, found)
        }

        @Test(arguments: [MapKind.hash, .percpuHash, .lruHash, .lruPercpuHash, .array, .percpuArray])
        func batchesAgreeWithOneKeyAtATime(kind: MapKind) throws {
            try withSegment(sizeMB: 8) { segment in
                try segment.apply([mapRecord(3, kind, max: 2000)])
                let map = try segment.map(at: 3)
                let cpus = map.valuesPerEntry
                // 700 keys in a scattered order (three chunks), then 700 keys of which 300 are absent.
                let written = (0..<700).map { UInt32($0 * 2_654_435_761 % 2000) }
                let (keys, values) = packed(written, cpus: cpus) { UInt64($0) * 1000 + UInt64($1) + 1 }
                let (count, result) = keys.withUnsafeBytes { k in values.withUnsafeBytes { map.update(keys: k, values: $0) } }
                #expect(count == 700 && result == 0)
                let asked = Array(written[300...]) + (0..<300).map { UInt32(2000 - 1 - $0) }.filter { !written.contains($0) }.prefix(300)
                let (hits, got, found) = batchLookup(map, asked.flatMap { le32($0) }, count: asked.count)
                var expectedHits = 0
                for (i, key) in asked.enumerated() {
                    let one = try map.lookup(key: le32(key))
                    // Arrays hold every index (zeros where nothing was written).
                    #expect(found[i] == (one != nil), "key \(key)")
                    if let one {
                        expectedHits += 1
                        #expect(Array(got[i * map.userValueSize ..< (i + 1) * map.userValueSize]) == one, "key \(key)")
                    }
                }
                #expect(hits == expectedHits)
                if !kind.isArray { #expect(hits == 400 && map.count == 700) }
                #expect(segment.check() == [])
            }
        }

        @Test func aBatchStopsAtTheFirstRefusedEntry() throws {
            try withSegment { segment in
                try segment.apply([mapRecord(3, .hash, max: 1000)])
                let map = try segment.map(at: 3)
                #expect(map.rawUpdate(le32(300), le64(1), flags: bpfNoExist) == 0)
                let generation = segment.generation
                let (keys, values) = packed(Array(0..<600), cpus: 1) { key, _ in UInt64(key) + 5 }
                let (count, result) = keys.withUnsafeBytes { k in values.withUnsafeBytes { map.update(keys: k, values: $0, flags: bpfNoExist) } }
                #expect(count == 300 && result == -EEXIST, "keys 0..<300 written, key 300 refused")
                #expect(map.count == 301)
                #expect(try map.lookup(key: le32(299)) == le64(304) && map.lookup(key: le32(300)) == le64(1) && map.lookup(key: le32(301)) == nil)
                #expect(segment.generation > generation, "the entries written are a change")
                #expect(segment.check() == [])
            }
        }

        @Test func batchesRefuseWhatOneKeyWouldRefuse() throws {
            try withSegment { segment in
                try segment.apply([mapRecord(3, .hash, max: 16), mapRecord(4, .queue, key: 0)])
                let map = try segment.map(at: 3)
                let keys = le32(1) + le32(2), values = le64(1) + le64(2)
                func update(_ keys: [UInt8], _ values: [UInt8]) -> (Int, Int32) {
                    keys.withUnsafeBytes { k in values.withUnsafeBytes { map.update(keys: k, values: $0) } }
                }
                #expect(update(keys + [0], values) == (0, -EINVAL), "a key cut short")
                #expect(update(keys, le64(1)) == (0, -EINVAL), "too few values")
                #expect(batchLookup(map, keys + [0], count: 3).result == -EINVAL)
                #expect(batchLookup(try segment.map(at: 4), [], count: 0).result == -EOPNOTSUPP)
                // A key buffer that claims so many keys that their values' size overflows: refused
                // before a byte of it is read (the pointer is never dereferenced).
                let claimed = UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: 0x1000)!, count: Int.max / 4 * 4)
                #expect(values.withUnsafeBytes { map.update(keys: claimed, values: $0) } == (0, -EINVAL))
                var none = [Bool](), noValues = [UInt8]()
                #expect(noValues.withUnsafeMutableBytes { v in none.withUnsafeMutableBufferPointer { map.lookup(keys: claimed, values: v, found: $0) } } == -EINVAL)
                try map.freeze()
                #expect(update(keys, values) == (0, -EPERM), "frozen maps refuse userspace writes")
                try segment.apply([mapRecord(3, .hash, max: 32)], replaceExisting: true)
                #expect(update(keys, values) == (0, -ESTALE))
                #expect(batchLookup(map, keys, count: 2).result == -ESTALE)
            }
        }

        /// Each entry is whole or absent even when the process dies inside a batch: a child is
        /// killed while it links the 300th entry, and recovery undoes that entry only.
        @Test func aBatchKilledMidwayKeepsTheEntriesBeforeIt() throws {
            try withSegment { segment in
                try segment.apply([mapRecord(3, .hash, max: 1000)])
                let map = try segment.map(at: 3)
                let (keys, values) = packed(Array(0..<600), cpus: 1) { key, _ in UInt64(key) + 5 }
                let child = Child.start { ready in
                    var linked = 0
                    crashPointHook = { point in
                        guard point == .hashEntryLinked else { return }
                        linked += 1
                        if linked == 300 { ready(); parkForever() }
                    }
                    _ = keys.withUnsafeBytes { k in values.withUnsafeBytes { map.update(keys: k, values: $0) } }
                    return 3 // the crash point was not reached
                }
                #expect(child.waitReady())
                #expect(child.kill() == 128 + SIGKILL)
                #expect(segment.check() == [])
                #expect(segment.status().recoveries == 1)
                #expect(map.count == 299)
                #expect(try map.lookup(key: le32(298)) == le64(303) && map.lookup(key: le32(299)) == nil)
            }
        }
    }
}

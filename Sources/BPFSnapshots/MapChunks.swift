import BPFModel
import Foundation

/// A map's entries in canonical order (by key bytes; queues and stacks by position), cut into
/// chunks at keys whose hash has its low bits zero. A boundary depends only on its own key, so
/// changing, adding or removing one entry changes one chunk (rarely two) and every other chunk
/// keeps its content hash and is not stored again.
struct MapChunks {
    /// Average and maximum entries per chunk.
    static let averageEntries = 1024
    static let maximumEntries = 8 * averageEntries

    /// `count` entries from entry `start` of `entries`, stored under `hash`.
    struct Chunk {
        var hash: [UInt8]
        var start: Int
        var count: Int
    }

    var keySize: Int
    var valueSize: Int
    var valuesPerEntry: Int
    var count: Int
    /// Key bytes as stored: sequence maps get their 4-byte big-endian position as key.
    var storedKeySize: Int
    var stride: Int
    var entrySize: Int { storedKeySize + stride }
    /// Every entry in canonical order, back to back: stored key bytes, then value bytes.
    var entries: [UInt8] = []
    var chunks: [Chunk] = []
    var hash: [UInt8] = []

    init(_ contents: MapContents, fd: Int) throws {
        keySize = contents.keySize
        valueSize = contents.valueSize
        valuesPerEntry = contents.valuesPerEntry
        stride = contents.entryStride
        storedKeySize = keySize == 0 ? 4 : keySize
        count = try Self.validate(contents, fd: fd)
        entries = Self.canonicalEntries(contents, count: count, storedKeySize: storedKeySize)

        let (entrySize, storedKeySize, stride) = (self.entrySize, self.storedKeySize, self.stride)
        var ranges: [(start: Int, count: Int)] = []
        try entries.withUnsafeBytes { all in
            var start = 0
            for n in 0..<count {
                let key = UnsafeRawBufferPointer(rebasing: all[n * entrySize ..< n * entrySize + storedKeySize])
                if n > 0, let base = all.baseAddress, memcmp(base + n * entrySize, base + (n - 1) * entrySize, storedKeySize) == 0 {
                    throw SnapshotError.invalidRecord(fd: fd, reason: "duplicate map key \(Hex.encode(key))")
                }
                if n + 1 - start >= Self.maximumEntries || Self.isBoundary(key) || n == count - 1 {
                    ranges.append((start, n + 1 - start))
                    start = n + 1
                }
            }
        }
        let entries = self.entries
        let hashes = SHA256.concurrently(ranges.count) { [ranges] i in
            entries.withUnsafeBytes { all in
                Self.chunkHash(UnsafeRawBufferPointer(rebasing: all[ranges[i].start * entrySize ..< (ranges[i].start + ranges[i].count) * entrySize]),
                               storedKeySize: storedKeySize, stride: stride)
            }
        }
        chunks = zip(ranges, hashes).map { Chunk(hash: $1, start: $0.start, count: $0.count) }

        var h = SHA256()
        for size in [keySize, valueSize, valuesPerEntry, count] { h.update(littleEndian: UInt64(size)) }
        for chunk in chunks { h.update(chunk.hash) }
        hash = h.finalize()
    }

    /// A chunk's content address: its sizes, then its entries back to back (stored key, value).
    static func chunkHash(_ entries: UnsafeRawBufferPointer, storedKeySize: Int, stride: Int) -> [UInt8] {
        var h = SHA256()
        h.update(littleEndian: UInt32(storedKeySize))
        h.update(littleEndian: UInt32(stride))
        h.update(entries)
        return h.finalize()
    }

    /// The content address of a chunk read back (`keySize` is the stored key size): what it
    /// must equal for the entries to be the ones saved under it.
    static func chunkHash(_ chunk: MapContents) -> [UInt8] {
        let (keySize, stride) = (chunk.keySize, chunk.entryStride)
        let count = keySize > 0 ? chunk.keys.count / keySize : 0
        // Buffers that disagree with the sizes are no chunk (nor are entries without a value,
        // which a save refuses): an empty hash matches none.
        guard keySize > 0, stride > 0, chunk.keys.count == count * keySize, chunk.values.count == count * stride else { return [] }
        let entries = interleaved(chunk, order: Array(0 ..< count), storedKeySize: keySize)
        return entries.withUnsafeBytes { chunkHash($0, storedKeySize: keySize, stride: stride) }
    }

    /// The entries sorted by key bytes (SQLite's BLOB order), or for queues and stacks in
    /// order with their position as key.
    private static func canonicalEntries(_ c: MapContents, count: Int, storedKeySize: Int) -> [UInt8] {
        interleaved(c, order: c.keySize == 0 ? Array(0..<count) : sortedOrder(c, count: count), storedKeySize: storedKeySize)
    }

    /// Entries `order` of `c` back to back, each its stored key then its value (a queue's or
    /// stack's position as a big-endian key).
    private static func interleaved(_ c: MapContents, order: [Int], storedKeySize: Int) -> [UInt8] {
        let count = order.count, stride = c.entryStride, entrySize = storedKeySize + stride
        return [UInt8](unsafeUninitializedCapacity: count * entrySize) { out, initialized in
            c.keys.withUnsafeBytes { keys in
                c.values.withUnsafeBytes { values in
                    guard let dst = out.baseAddress, let src = values.baseAddress else { return }
                    for (n, index) in order.enumerated() {
                        let entry = UnsafeMutableRawPointer(dst + n * entrySize)
                        if c.keySize == 0 {
                            entry.storeBytes(of: UInt32(truncatingIfNeeded: index).bigEndian, as: UInt32.self)
                        } else if let keyBase = keys.baseAddress {
                            entry.copyMemory(from: keyBase + index * storedKeySize, byteCount: storedKeySize)
                        }
                        (entry + storedKeySize).copyMemory(from: src + index * stride, byteCount: stride)
                    }
                }
            }
            initialized = count * entrySize
        }
    }

    /// FNV-1a then a murmur finalizer: fixed forever, since boundaries decide what deduplicates.
    @inline(__always)
    static func isBoundary(_ key: UnsafeRawBufferPointer) -> Bool {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        h ^= h >> 33; h &*= 0xff51_afd7_ed55_8ccd; h ^= h >> 33
        return h & UInt64(averageEntries - 1) == 0
    }

    /// Entry count, after checking the buffers agree with the sizes (never trap on bad input).
    private static func validate(_ c: MapContents, fd: Int) throws -> Int {
        func bad(_ reason: String) -> SnapshotError { .invalidRecord(fd: fd, reason: reason) }
        guard c.keySize >= 0, c.valueSize >= 0, c.valuesPerEntry >= 1 else {
            throw bad("map contents with negative sizes")
        }
        let (stride, overflow) = c.valueSize.multipliedReportingOverflow(by: c.valuesPerEntry)
        guard !overflow else { throw bad("map value size overflows") }
        if stride == 0 {
            guard c.keys.isEmpty, c.values.isEmpty else { throw bad("map entries with an empty value size") }
            return 0
        }
        guard c.values.count % stride == 0 else {
            throw bad("\(c.values.count) value bytes are not a whole number of \(stride)-byte entries")
        }
        let count = c.values.count / stride
        guard c.keys.count == count * c.keySize else {
            throw bad("\(c.keys.count) key bytes for \(count) entries of \(c.keySize)-byte keys")
        }
        guard count <= Int(UInt32.max) else { throw bad("too many entries") }
        return count
    }

    /// Entry indices in key-byte order (SQLite's BLOB order), for the first `count` entries;
    /// equal keys (only in a layered chain's rows) stay in index order.
    static func sortedOrder(_ c: MapContents, count: Int) -> [Int] {
        let keySize = c.keySize
        return c.keys.withUnsafeBytes { keys in
            if keySize <= 4 {
                // Key bytes big-endian in the high half, index in the low half: one integer sort.
                var packed = [UInt64](repeating: 0, count: count)
                for i in 0..<count {
                    var k: UInt64 = 0
                    for b in 0..<keySize { k |= UInt64(keys[i * keySize + b]) << (56 - 8 * b) }
                    packed[i] = k | UInt64(i)
                }
                radixSortHighHalf(&packed)
                return packed.map { Int($0 & 0xffff_ffff) }
            }
            return (0..<count).sorted { a, b in
                let order = compareKeys(keys, keySize, a, b)
                return order < 0 || (order == 0 && a < b)
            }
        }
    }

    private static func compareKeys(_ keys: UnsafeRawBufferPointer, _ keySize: Int, _ a: Int, _ b: Int) -> Int32 {
        guard let base = keys.baseAddress else { return 0 }
        return memcmp(base + a * keySize, base + b * keySize, keySize)
    }

    /// LSD radix sort on bits 32...63, two 16-bit digits: several times faster than a
    /// comparison sort for a million keys.
    private static func radixSortHighHalf(_ values: inout [UInt64]) {
        var scratch = [UInt64](repeating: 0, count: values.count)
        var counts = [Int](repeating: 0, count: 1 << 16)
        for shift: UInt64 in [32, 48] {
            for i in counts.indices { counts[i] = 0 }
            for v in values { counts[Int(truncatingIfNeeded: (v >> shift) & 0xffff)] += 1 }
            var total = 0
            for i in counts.indices { (counts[i], total) = (total, total + counts[i]) }
            for v in values {
                let digit = Int(truncatingIfNeeded: (v >> shift) & 0xffff)
                scratch[counts[digit]] = v
                counts[digit] += 1
            }
            swap(&values, &scratch)
        }
    }
}

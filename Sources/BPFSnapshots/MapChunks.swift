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

    struct Chunk {
        var hash: [UInt8]
        /// Entries back to back: `storedKeySize` key bytes then `stride` value bytes each.
        var entries: [UInt8]
        var count: Int
    }

    var keySize: Int
    var valueSize: Int
    var valuesPerEntry: Int
    var count: Int
    /// Key bytes as stored: sequence maps get their 4-byte big-endian position as key.
    var storedKeySize: Int
    var stride: Int
    var chunks: [Chunk] = []
    var hash: [UInt8] = []

    init(_ contents: MapContents, fd: Int) throws {
        keySize = contents.keySize
        valueSize = contents.valueSize
        valuesPerEntry = contents.valuesPerEntry
        stride = contents.entryStride
        storedKeySize = keySize == 0 ? 4 : keySize
        count = try Self.validate(contents, fd: fd)

        let order = keySize == 0 ? Array(0..<count) : Self.sortedOrder(contents, count: count)
        try Self.checkUnique(contents, order, fd: fd)
        var current = Chunk(hash: [], entries: [], count: 0)
        current.entries.reserveCapacity(Self.averageEntries * 2 * (storedKeySize + stride))
        contents.keys.withUnsafeBytes { keys in
            contents.values.withUnsafeBytes { values in
                for index in order {
                    let key: UnsafeRawBufferPointer
                    var position = UInt32(truncatingIfNeeded: index).bigEndian
                    if keySize == 0 {
                        key = withUnsafeBytes(of: &position) { UnsafeRawBufferPointer($0) }
                        current.entries.append(contentsOf: key)
                    } else {
                        key = UnsafeRawBufferPointer(rebasing: keys[index * keySize ..< (index + 1) * keySize])
                        current.entries.append(contentsOf: key)
                    }
                    current.entries.append(contentsOf: UnsafeRawBufferPointer(rebasing: values[index * stride ..< (index + 1) * stride]))
                    current.count += 1
                    if current.count >= Self.maximumEntries || Self.isBoundary(key) {
                        finish(&current)
                    }
                }
            }
        }
        if current.count > 0 { finish(&current) }

        var h = SHA256()
        for size in [keySize, valueSize, valuesPerEntry, count] { h.update(littleEndian: UInt64(size)) }
        for chunk in chunks { h.update(chunk.hash) }
        hash = h.finalize()
    }

    private mutating func finish(_ chunk: inout Chunk) {
        var h = SHA256()
        h.update(littleEndian: UInt32(storedKeySize))
        h.update(littleEndian: UInt32(stride))
        h.update(chunk.entries)
        chunk.hash = h.finalize()
        chunks.append(chunk)
        chunk.entries.removeAll(keepingCapacity: true)
        chunk.count = 0
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

    /// Entry indices in key-byte order (SQLite's BLOB order), for the first `count` entries.
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
                packed.sort()
                return packed.map { Int($0 & 0xffff_ffff) }
            }
            return (0..<count).sorted { compareKeys(keys, keySize, $0, $1) < 0 }
        }
    }

    private static func compareKeys(_ keys: UnsafeRawBufferPointer, _ keySize: Int, _ a: Int, _ b: Int) -> Int32 {
        guard let base = keys.baseAddress else { return 0 }
        return memcmp(base + a * keySize, base + b * keySize, keySize)
    }

    private static func checkUnique(_ c: MapContents, _ order: [Int], fd: Int) throws {
        try c.keys.withUnsafeBytes { keys in
            for (a, b) in zip(order, order.dropFirst()) where compareKeys(keys, c.keySize, a, b) == 0 {
                throw SnapshotError.invalidRecord(fd: fd, reason: "duplicate map key \(Hex.encode(c.key(at: a)))")
            }
        }
    }
}

import BPFModel
import Foundation

/// The changes of a layered contents' chain, merged: every key a layer wrote, in key order,
/// with its newest value or as deleted.
struct Overlay {
    var keySize: Int
    var stride: Int
    var keys: [UInt8] = []
    /// `stride` bytes per key; zeros for a deleted key.
    var values: [UInt8] = []
    var deleted: [Bool] = []
    /// For keys of up to 8 bytes, each key as an integer in the keys' order (`packed`): the
    /// merge compares integers, not bytes.
    var packedKeys: [UInt64] = []

    var count: Int { deleted.count }
    func key(_ i: Int) -> ArraySlice<UInt8> { keys[i * keySize ..< (i + 1) * keySize] }
    func value(_ i: Int) -> ArraySlice<UInt8> { values[i * stride ..< (i + 1) * stride] }

    /// The chain's rows come newest layer first, each layer in key order, straight from the
    /// primary keys; they are put in key order here with a stable sort (a radix sort for keys
    /// of up to 4 bytes), so each key's newest row comes first. SQLite sorting the chain by key
    /// and depth cost several times more.
    static func load(_ content: Int64, _ layout: MapContentRows.Layout, _ db: any SQLConnection) throws -> Overlay {
        var rows = MapContents(keySize: layout.storedKeySize, valueSize: layout.stride)
        var deleted: [Bool] = []
        let expected = min(layout.layerEntries, 1 << 22)  // the chain's recorded size; a damaged one must not allocate wildly
        rows.keys.reserveCapacity(expected * layout.storedKeySize)
        rows.values.reserveCapacity(expected * layout.stride)
        deleted.reserveCapacity(expected)
        let zeros = [UInt8](repeating: 0, count: layout.stride)
        try db.forEachEntry("""
            SELECT d.key, d.value FROM map_content_layers l JOIN map_content_deltas d ON d.content = l.layer
            WHERE l.content = $1 ORDER BY l.depth DESC, d.key
            """, content, keySize: layout.storedKeySize, stride: layout.stride) { key, value in
            rows.keys.append(contentsOf: key)
            if let value { rows.values.append(contentsOf: value) } else { rows.values += zeros }
            deleted.append(value == nil)
        }
        var overlay = Overlay(keySize: layout.storedKeySize, stride: layout.stride)
        overlay.keys.reserveCapacity(rows.keys.count)
        overlay.values.reserveCapacity(rows.values.count)
        overlay.deleted.reserveCapacity(deleted.count)
        let keySize = layout.storedKeySize
        rows.keys.withUnsafeBytes { keys in
            var previous: Int?
            for i in MapChunks.sortedOrder(rows, count: deleted.count) {
                if let p = previous, let base = keys.baseAddress, memcmp(base + p * keySize, base + i * keySize, keySize) == 0 { continue }
                previous = i
                overlay.keys.append(contentsOf: rows.key(at: i))
                overlay.values.append(contentsOf: rows.value(at: i))
                overlay.deleted.append(deleted[i])
            }
        }
        if keySize <= 8 {
            overlay.packedKeys = overlay.keys.withUnsafeBytes { keys in
                (0 ..< overlay.count).map { Self.packed(UnsafeRawBufferPointer(rebasing: keys[$0 * keySize ..< ($0 + 1) * keySize])) }
            }
        }
        return overlay
    }

    /// A key of up to 8 bytes as a big-endian integer, left-aligned: integers order as the keys' bytes do.
    @inline(__always)
    static func packed(_ key: UnsafeRawBufferPointer) -> UInt64 {
        switch key.count {
        case 4: return UInt64(UInt32(bigEndian: key.loadUnaligned(as: UInt32.self))) << 32
        case 8: return UInt64(bigEndian: key.loadUnaligned(as: UInt64.self))
        default:
            var k: UInt64 = 0
            for (i, byte) in key.enumerated() { k |= UInt64(byte) << (56 - 8 * i) }
            return k
        }
    }

    /// Appends to `contents` the entries `base` gives (in key order), with the overlay's entries
    /// at `span` applied: replaced, deleted or inserted in order. This runs once per entry of
    /// every layered map read back, so each base key is compared once with the overlay's next
    /// key, as integers when keys have up to 8 bytes.
    func merge<Sink: EntrySink>(_ span: Range<Int>, into contents: inout Sink,
                                base: ((UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let (keySize, stride, end, packed) = (self.keySize, self.stride, span.upperBound, !packedKeys.isEmpty)
        try keys.withUnsafeBytes { overlayKeys in
            try values.withUnsafeBytes { overlayValues in
                var next = span.lowerBound
                func emitOverlay() throws {
                    if !deleted[next] {
                        try contents.append(UnsafeRawBufferPointer(rebasing: overlayKeys[next * keySize ..< (next + 1) * keySize]),
                                            UnsafeRawBufferPointer(rebasing: overlayValues[next * stride ..< (next + 1) * stride]))
                    }
                    next += 1
                }
                /// Where `key` stands against the overlay's next key: below 0 before it, 0 at it,
                /// above 0 after it (below 0 when the overlay is done).
                func order(_ key: UnsafeRawBufferPointer) -> Int {
                    guard next < end else { return -1 }
                    if packed {
                        let (k, o) = (Self.packed(key), packedKeys[next])
                        return k < o ? -1 : k == o ? 0 : 1
                    }
                    guard let a = key.baseAddress, let b = overlayKeys.baseAddress else { return -1 }
                    return Int(memcmp(a, b + next * keySize, keySize))
                }
                try base { key, value in
                    var o = order(key)
                    while o > 0 {
                        try emitOverlay()
                        o = order(key)
                    }
                    if o == 0 {
                        try emitOverlay()
                    } else {
                        try contents.append(key, value)
                    }
                }
                while next < end { try emitOverlay() }
            }
        }
    }
}

/// Where merged entries go, one key and value at a time.
protocol EntrySink {
    mutating func append(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws
}

extension MapContents: EntrySink {
    mutating func append(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        keys.append(contentsOf: key)
        values.append(contentsOf: value)
    }
}

/// Buffers of a known number of entries, filled in place: each entry copied once, nothing
/// grown. More entries than that are refused (the recorded count was wrong).
struct EntryBuffers: EntrySink {
    let keys: UnsafeMutableRawBufferPointer, values: UnsafeMutableRawBufferPointer
    let keySize: Int, stride: Int, capacity: Int
    private(set) var count = 0

    init(keys: UnsafeMutableRawBufferPointer, values: UnsafeMutableRawBufferPointer, keySize: Int, stride: Int, capacity: Int) {
        (self.keys, self.values, self.keySize, self.stride, self.capacity) = (keys, values, keySize, stride, capacity)
    }

    mutating func append(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws {
        guard count < capacity else { throw SnapshotError.damaged("map contents hold more entries than the \(capacity) recorded") }
        guard key.count == keySize, value.count == stride else { throw SnapshotError.database("map contents hold an entry of the wrong size") }
        UnsafeMutableRawBufferPointer(rebasing: keys[count * keySize ..< (count + 1) * keySize]).copyMemory(from: key)
        UnsafeMutableRawBufferPointer(rebasing: values[count * stride ..< (count + 1) * stride]).copyMemory(from: value)
        count += 1
    }
}

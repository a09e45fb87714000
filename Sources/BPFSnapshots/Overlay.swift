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
        return overlay
    }

    /// Appends to `contents` the entries `base` gives (in key order), with the overlay's entries
    /// at `span` applied: replaced, deleted or inserted in order. Keys are compared with memcmp:
    /// this runs once per entry of every layered map read back.
    func merge(_ span: Range<Int>, into contents: inout MapContents,
               base: ((UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let (keySize, stride) = (self.keySize, self.stride)
        try keys.withUnsafeBytes { overlayKeys in
            try values.withUnsafeBytes { overlayValues in
                var next = span.lowerBound
                func emitOverlay() {
                    if !deleted[next] {
                        contents.keys.append(contentsOf: UnsafeRawBufferPointer(rebasing: overlayKeys[next * keySize ..< (next + 1) * keySize]))
                        contents.values.append(contentsOf: UnsafeRawBufferPointer(rebasing: overlayValues[next * stride ..< (next + 1) * stride]))
                    }
                    next += 1
                }
                func order(_ key: UnsafeRawBufferPointer) -> Int32 {
                    guard let a = overlayKeys.baseAddress, let b = key.baseAddress else { return 0 }
                    return memcmp(a + next * keySize, b, keySize)
                }
                try base { key, value in
                    while next < span.upperBound, order(key) < 0 { emitOverlay() }
                    if next < span.upperBound, order(key) == 0 {
                        emitOverlay()
                    } else {
                        contents.keys.append(contentsOf: key)
                        contents.values.append(contentsOf: value)
                    }
                }
                while next < span.upperBound { emitOverlay() }
            }
        }
    }
}

import BPFModel
import Foundation
import GRDB

/// The entry changes between two stored contents over the same base, found from their layers
/// alone: a key neither chain wrote has its base value on both sides, so only the keys the two
/// merged chains disagree on are compared, and the base is read only for keys one chain lacks.
enum LayeredDiff {
    /// `nil` when the contents do not share a base, or when one chain lacks so many of the
    /// other's keys that point lookups would cost more than reading the chunks: then compare
    /// them chunk by chunk.
    static func between(_ x: Int64, _ y: Int64, _ db: any SQLConnection, detail: MapContentsDiff.Detail) throws -> MapContentsDiff? {
        let (lx, ly) = (try MapContentRows.layout(x, db), try MapContentRows.layout(y, db))
        let base = lx.base ?? x
        guard base == ly.base ?? y, lx.base != nil || ly.base != nil,
              (lx.keySize, lx.valueSize, lx.valuesPerEntry) == (ly.keySize, ly.valueSize, ly.valuesPerEntry) else { return nil }
        let empty = Overlay(keySize: lx.storedKeySize, stride: lx.stride)
        let ox = lx.base == nil ? empty : try Overlay.load(x, lx, db)
        let oy = ly.base == nil ? empty : try Overlay.load(y, ly, db)
        let lookup = try BaseLookup(base, lx, db)
        var lookups = 0
        let maximumLookups = max(lx.count / 16, 1024)

        let keep = detail == .entries
        var diff = MapContentsDiff(
            added: MapContents(keySize: lx.storedKeySize, valueSize: lx.valueSize, valuesPerEntry: lx.valuesPerEntry),
            removed: MapContents(keySize: lx.storedKeySize, valueSize: lx.valueSize, valuesPerEntry: lx.valuesPerEntry),
            changed: ChangedEntries(keySize: lx.storedKeySize, oldStride: lx.stride, newStride: lx.stride))
        func compare(_ key: ArraySlice<UInt8>, _ old: ArraySlice<UInt8>?, _ new: ArraySlice<UInt8>?) {
            switch (old, new) {
            case (nil, let n?):
                diff.addedCount += 1
                if keep { diff.added.append(key: key, value: n) }
            case (let o?, nil):
                diff.removedCount += 1
                if keep { diff.removed.append(key: key, value: o) }
            case (let o?, let n?) where o != n:
                diff.changedCount += 1
                if keep { diff.changed.append(key: key, old: o, new: n) }
            default: break
            }
        }
        func value(_ o: Overlay, _ i: Int) -> ArraySlice<UInt8>? { o.deleted[i] ? nil : o.value(i) }
        var (i, j) = (0, 0)
        while i < ox.count || j < oy.count {
            let order = i == ox.count ? 1 : j == oy.count ? -1
                : ox.key(i).lexicographicallyPrecedes(oy.key(j)) ? -1 : ox.key(i) == oy.key(j) ? 0 : 1
            if order == 0 {
                compare(ox.key(i), value(ox, i), value(oy, j)); i += 1; j += 1
            } else {
                lookups += 1
                guard lookups <= maximumLookups else { return nil }
                if order < 0 {
                    compare(ox.key(i), value(ox, i), try lookup.value(ox.key(i)).map { $0[...] }); i += 1
                } else {
                    compare(oy.key(j), try lookup.value(oy.key(j)).map { $0[...] }, value(oy, j)); j += 1
                }
            }
        }
        return diff
    }
}

/// Point lookups in a base: the chunk that holds a key is found from the chunks' first keys.
struct BaseLookup {
    /// The base's chunks in key order, and the first key of each.
    let chunks: [Int64]
    let firstKeys: [[UInt8]]
    private let db: any SQLConnection

    init(_ base: Int64, _ layout: MapContentRows.Layout, _ db: any SQLConnection) throws {
        chunks = try Self.chunks(of: base, db)
        firstKeys = try chunks.map { try Self.firstKey(of: $0, layout, db) }
        self.db = db
    }

    func value(_ key: ArraySlice<UInt8>) throws -> [UInt8]? {
        guard let i = Self.chunk(holding: key, count: chunks.count, firstKey: { firstKeys[$0] }) else { return nil }
        return try Self.value(key, inChunk: chunks[i], db)
    }

    /// The value of one `key` in `base`, without reading every chunk's first key as `init`
    /// does: the search reads the first key of the chunks it probes (about log2 of the chunk
    /// count: 10 for a million entries, where `init` reads 1,000).
    static func value(_ key: [UInt8], in base: Int64, _ layout: MapContentRows.Layout, _ db: any SQLConnection) throws -> [UInt8]? {
        let chunks = try chunks(of: base, db)
        guard let i = try chunk(holding: key[...], count: chunks.count, firstKey: { try firstKey(of: chunks[$0], layout, db) }) else { return nil }
        return try value(key[...], inChunk: chunks[i], db)
    }

    /// Of `count` chunks in key order, the last whose first key is not above `key`.
    private static func chunk(holding key: ArraySlice<UInt8>, count: Int, firstKey: (Int) throws -> [UInt8]) rethrows -> Int? {
        var (low, high) = (0, count)
        while low < high {
            let mid = (low + high) / 2
            if key.lexicographicallyPrecedes(try firstKey(mid)) { high = mid } else { low = mid + 1 }
        }
        return low > 0 ? low - 1 : nil
    }

    private static func chunks(of base: Int64, _ db: any SQLConnection) throws -> [Int64] {
        try db.rows("SELECT chunk FROM map_content_chunks WHERE content = $1 ORDER BY seq", [.integer(base)]).map {
            guard let chunk = $0[0].integer else { throw SnapshotError.damaged("map contents \(base) list a chunk without an id") }
            return chunk
        }
    }

    private static func firstKey(of chunk: Int64, _ layout: MapContentRows.Layout, _ db: any SQLConnection) throws -> [UInt8] {
        guard let key = try db.value("SELECT key FROM chunk_entries WHERE chunk = $1 ORDER BY key LIMIT 1", [.integer(chunk)])?.blob,
              key.count == layout.storedKeySize else {
            throw SnapshotError.database("chunk \(chunk) is empty or holds a key of the wrong size")
        }
        return key
    }

    private static func value(_ key: ArraySlice<UInt8>, inChunk chunk: Int64, _ db: any SQLConnection) throws -> [UInt8]? {
        try db.value("SELECT value FROM chunk_entries WHERE chunk = $1 AND key = $2", [.integer(chunk), .blob(Array(key))])?.blob
    }
}

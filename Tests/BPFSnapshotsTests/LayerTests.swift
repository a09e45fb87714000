import BPFModel
@testable import BPFSnapshots
import Foundation
import GRDB
import Testing

/// Map contents saved as change layers over a base: storage proportional to what changed,
/// every snapshot reading back exactly, in Swift and through the `map_entries` view.
@Suite struct LayerTests {
    /// A hash map model (4-byte keys, 8-byte values) changed by a seeded generator.
    struct ChangingMap {
        var entries: [UInt32: UInt64]
        var state: UInt64

        init(count: Int, seed: UInt64) {
            entries = Dictionary(uniqueKeysWithValues: (0..<UInt32(count)).map { ($0 &* 2_654_435_761, UInt64($0)) })
            state = seed
        }

        mutating func random(_ bound: Int) -> Int {
            state = state &+ 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return Int((z ^ (z >> 31)) % UInt64(bound))
        }

        /// `k` scattered changes: mostly new values, some deletions and insertions.
        mutating func change(_ k: Int) {
            let keys = Array(entries.keys)
            for n in 0..<k {
                switch n % 10 {
                case 0: entries[UInt32(truncatingIfNeeded: random(Int(UInt32.max)))] = UInt64(random(1 << 30))
                case 1: entries[keys[random(keys.count)]] = nil
                default: entries[keys[random(keys.count)]] = UInt64(random(1 << 30)) | 1 << 40
                }
            }
        }

        /// Listed in hash-table order, as a segment lists them.
        var record: HandlerRecord {
            var contents = MapContents(keySize: 4, valueSize: 8)
            for (k, v) in entries { contents.append(key: Fixtures.bytes(k), value: Fixtures.bytes(v)) }
            return HandlerRecord(fd: 3, handler: .map(MapHandler(
                name: "counters", attributes: MapAttributes(mapType: 1, keySize: 4, valueSize: 8, maxEntries: 1 << 20), contents: contents)))
        }

        /// Sorted by key bytes, as the store gives them back.
        var sorted: MapContents {
            var contents = MapContents(keySize: 4, valueSize: 8)
            for (k, v) in entries.map({ (Fixtures.bytes($0.key), Fixtures.bytes($0.value)) }).sorted(by: { $0.0.lexicographicallyPrecedes($1.0) }) {
                contents.append(key: k, value: v)
            }
            return contents
        }
    }

    static func contents(_ store: SnapshotStore, _ id: Int64) throws -> MapContents? {
        guard case .map(let m) = try store.records(of: id).first?.handler else { return nil }
        return m.contents
    }

    @Test func aHundredSnapshotsOfAChangingMapGrowWithTheChangesOnly() throws {
        let dir = TemporaryDirectory()
        let store = try SnapshotStore(path: dir.file("s.db"))
        var map = ChangingMap(count: 100_000, seed: 1)
        let k = 200
        var ids: [Int64] = [try store.save([map.record], meta: Fixtures.meta)]
        var expected = [map.sorted]
        let first = try store.usedBytes()
        var before = first
        for round in 1..<100 {
            map.change(k)
            ids.append(try store.save([map.record], meta: Fixtures.meta))
            if round % 33 == 0 || round == 99 { expected.append(map.sorted) }
            let after = try store.usedBytes()
            // The issue's target for each save: under 64 bytes per changed entry + 64 KiB.
            #expect(after - before < 64 * k + 64 * 1024, "save \(round) added \(after - before) bytes")
            before = after
        }
        // All of it together, well under a second copy of the map per ten saves.
        #expect(before - first < 99 * (64 * k + 16 * 1024))
        #expect(try Fixtures.query(dir.file("s.db"), "SELECT count(*) AS n FROM map_contents WHERE base IS NULL").first?["n"] as? Int == 1)

        for (n, id) in [ids[0], ids[33], ids[66], ids[99]].enumerated() {
            #expect(try Self.contents(store, id) == expected[n])
        }
        // The view gives every entry of a layered snapshot, the same as the store does.
        let rows = try Fixtures.query(dir.file("s.db"), "SELECT count(*) AS n, sum(length(value)) AS bytes FROM map_entries WHERE snapshot = \(ids[99])")
        #expect(rows.first?["n"] as? Int == map.entries.count)
        let changed = try store.diff(ids[98], ids[99])
        #expect(changed.changed.first.map { $0.mapChanges.addedCount + $0.mapChanges.removedCount + $0.mapChanges.changedCount } ?? 0 > k / 2)
    }

    @Test func layeredSnapshotsReadDiffAndCollectExactly() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.db")
        let store = try SnapshotStore(path: path)
        var map = ChangingMap(count: 20_000, seed: 7)
        var history: [(Int64, MapContents, HandlerRecord)] = []
        for _ in 0..<12 {
            history.append((try store.save([map.record], meta: Fixtures.meta), map.sorted, map.record))
            map.change(900)  // a chain of about six saves, then a new base
        }
        let bases = try Fixtures.query(path, "SELECT count(*) AS n FROM map_contents WHERE base IS NULL").first?["n"] as? Int ?? 0
        #expect(bases >= 2 && bases < 6)
        for (id, sorted, _) in history { #expect(try Self.contents(store, id) == sorted) }

        // Diffs between layered snapshots, across a rebase, and against a live state agree with
        // diffing the full handler tables.
        for (a, b) in [(1, 2), (2, 5), (0, 11), (3, 10), (11, 4)] {
            let expected = SnapshotDiffer.diff([history[a].2], [history[b].2])
            let stored = try store.diff(history[a].0, history[b].0)
            #expect(stored.changed.map(\.mapChanges) == expected.changed.map(\.mapChanges))
            let live = try store.diff(history[a].0, live: [history[b].2])
            #expect(live.changed.map(\.mapChanges) == expected.changed.map(\.mapChanges))
        }

        // One key through the view, in a layered snapshot, matches the store.
        let (id, sorted, _) = history[5]
        let key = Array(sorted.key(at: 1234)), value = Array(sorted.value(at: 1234))
        let rows = try Fixtures.query(path, "SELECT value_hex FROM map_entries WHERE snapshot = \(id) AND key = x'\(Hex.encode(key))'")
        #expect(rows.map { $0["value_hex"] as? String } == [Hex.encode(value)])

        // Removing the snapshots a layered one was saved over keeps what it reads.
        for (id, _, _) in history.prefix(10) { try store.remove(id) }
        try store.collectGarbage()
        #expect(try Self.contents(store, history[10].0) == history[10].1)
        #expect(try Self.contents(store, history[11].0) == history[11].1)
        #expect(try store.integrityCheck() == ["ok"])
    }

    /// The merge compares keys of up to 8 bytes as integers and longer ones as bytes: a layer
    /// of changed, deleted and added keys reads back exactly for 2-, 8- and 16-byte keys.
    @Test(arguments: [2, 8, 16]) func layeredReadsMergeEveryKeyWidth(keySize: Int) throws {
        let dir = TemporaryDirectory()
        let store = try SnapshotStore(path: dir.file("s.db"))
        /// Distinct keys in a scrambled order: an odd multiplier modulo 2^bits is a bijection.
        func key(_ i: Int) -> [UInt8] {
            let bits = UInt64(min(keySize, 8) * 8)
            let scrambled = (UInt64(i) &* 0x9e37_79b9_7f4a_7c15) & (bits == 64 ? .max : (1 << bits) - 1)
            return (0 ..< keySize).map { b in UInt8(truncatingIfNeeded: b < 8 ? scrambled >> (bits - 8 - 8 * UInt64(b)) : UInt64(b)) }
        }
        func record(_ entries: [[UInt8]: [UInt8]]) -> HandlerRecord {
            var contents = MapContents(keySize: keySize, valueSize: 8)
            for (k, v) in entries { contents.append(key: k, value: v) }
            return HandlerRecord(fd: 3, handler: .map(MapHandler(
                name: "wide", attributes: MapAttributes(mapType: 1, keySize: UInt32(keySize), valueSize: 8, maxEntries: 1 << 16), contents: contents)))
        }
        func sorted(_ entries: [[UInt8]: [UInt8]]) -> MapContents {
            var contents = MapContents(keySize: keySize, valueSize: 8)
            for (k, v) in entries.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) { contents.append(key: k, value: v) }
            return contents
        }
        var entries = Dictionary(uniqueKeysWithValues: (0 ..< 4000).map { (key($0), Fixtures.bytes(UInt64($0))) })
        let first = try store.save([record(entries)], meta: Fixtures.meta)
        for i in stride(from: 0, to: 4000, by: 37) { entries[key(i)] = Fixtures.bytes(UInt64(i) + 1_000_000) }
        for i in stride(from: 5, to: 4000, by: 101) { entries[key(i)] = nil }
        for i in 4000 ..< 4050 { entries[key(i)] = Fixtures.bytes(UInt64(i)) }
        let second = try store.save([record(entries)], meta: Fixtures.meta)
        let layered = try Fixtures.query(dir.file("s.db"), "SELECT count(*) AS n FROM map_contents WHERE base IS NOT NULL").first?["n"] as? Int
        #expect(layered == 1, "the second save is a layer")
        #expect(try Self.contents(store, second) == sorted(entries))
        #expect(try Self.contents(store, first)?.count == 4000)
    }

    @Test func queueMapsLayerToo() throws {
        let dir = TemporaryDirectory()
        let store = try SnapshotStore(path: dir.file("s.db"))
        func queue(_ values: [UInt32]) -> HandlerRecord {
            var q = MapContents(keySize: 0, valueSize: 4)
            for v in values { q.append(key: [], value: Fixtures.bytes(v)) }
            return HandlerRecord(fd: 5, handler: .map(MapHandler(
                name: "q", attributes: MapAttributes(mapType: 22, keySize: 0, valueSize: 4, maxEntries: 1 << 16), contents: q)))
        }
        let values = (0..<5000).map { UInt32($0) }
        let states = [queue([]), queue(values), queue(values.map { $0 == 77 ? 1 : $0 }), queue(Array(values.dropLast(3)))]
        for state in states {
            let id = try store.save([state], meta: Fixtures.meta)
            #expect(try store.records(of: id) == [state])
        }
        // One changed value, then that value back and the last three gone: two layers of 1 and 4 rows.
        #expect(try Fixtures.query(dir.file("s.db"), "SELECT count(*) AS n FROM map_content_deltas").first?["n"] as? Int == 5)
    }

    @Test func aDatabaseFromBeforeLayersReadsAndGrowsLayersOverItsMaps() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.db")
        let record = Fixtures.bigMap(5_000)
        // Schema 0001-0002 and a snapshot stored as they stored it: the map as a base of chunks.
        do {
            let pool = try DatabasePool(path: path)
            try Schema.migrate(pool, path: path, migrations: Schema.migrations.filter { $0.version <= 2 })
            guard case .map(let m) = record.handler, let contents = m.contents else { return }
            let map = try MapChunks(contents, fd: 3)
            try pool.write { db in
                try db.execute(sql: "INSERT INTO snapshots (id, created_at, segment_name, host, generation) VALUES (1, '2026-01-01 00:00:00.000', 'seg', 'h', 1)")
                try db.execute(sql: "INSERT INTO map_contents (id, hash, key_size, value_size, values_per_entry, entry_count) VALUES (1, ?, 4, 8, 1, ?)",
                               arguments: [Data(map.hash), map.count])
                for (seq, chunk) in map.chunks.enumerated() {
                    try db.execute(sql: "INSERT INTO chunks (id, hash, entry_count) VALUES (?, ?, ?)", arguments: [seq + 1, Data(chunk.hash), chunk.count])
                    try ChunkRows.insert(chunk, of: map, id: Int64(seq + 1), db)
                    try db.execute(sql: "INSERT INTO map_content_chunks (content, seq, chunk) VALUES (1, ?, ?)", arguments: [seq, seq + 1])
                }
                try db.execute(sql: "INSERT INTO handler_states (id, hash, kind, name, attributes, map_content) VALUES (1, x'01', 'bpf_map_handler', 'big', ?, 1)",
                               arguments: [StoredAttributes.encode(record.handler)])
                try db.execute(sql: "INSERT INTO snapshot_handlers (snapshot, fd, state) VALUES (1, 3, 1)")
            }
            try pool.close()
        }
        let store = try SnapshotStore(path: path)
        // (Entries come back in key-byte order: compared as maps, not as lists.)
        #expect(SnapshotDiffer.diff(try store.records(of: 1), [record]).isEmpty)
        var changed = record
        if case .map(var m) = changed.handler, var contents = m.contents {
            contents.values[8 * 77] ^= 0xff
            m.contents = contents
            changed.handler = .map(m)
        }
        let id = try store.save([changed], meta: SnapshotMeta(segmentName: "seg", host: "h", generation: 2))
        #expect(SnapshotDiffer.diff(try store.records(of: id), [changed]).isEmpty)
        #expect(try Fixtures.query(path, "SELECT base, layer_entries FROM map_contents WHERE base IS NOT NULL").map { "\($0["base"] ?? "") \($0["layer_entries"] ?? "")" } == ["1 1"])
        #expect(try store.diff(1, id).changed.first?.mapChanges.changedCount == 1)
    }

    /// The browser's reads (a page at any offset, one key, a key across snapshots) give what
    /// reading the whole snapshot gives when its map is layered: changed, deleted and inserted
    /// keys included.
    @Test func browsingALayeredMapReadsWhatTheSnapshotHolds() throws {
        let dir = TemporaryDirectory()
        let store = try SnapshotStore(path: dir.file("s.db"))
        var map = ChangingMap(count: 5_000, seed: 3)
        let first = try store.save([map.record], meta: Fixtures.meta)
        let base = map.entries
        map.change(300)
        let layered = try store.save([map.record], meta: Fixtures.meta)
        #expect(try Fixtures.query(dir.file("s.db"), "SELECT count(*) AS n FROM map_contents WHERE base IS NOT NULL").map { "\($0["n"] ?? "")" } == ["1"],
                "the second save is a layer")
        let expected = map.sorted
        for (offset, limit) in [(0, 7), (1_234, 1_000), (expected.count - 3, 10), (expected.count, 5)] {
            let page = try #require(try store.withReadConnection { try $0.mapEntries(of: layered, fd: 3, offset: offset, limit: limit) })
            #expect(page.total == expected.count)
            let wanted = offset ..< min(expected.count, offset + limit)
            #expect(page.entries.map(\.key) == wanted.map { Array(expected.key(at: $0)) }, "keys at \(offset)")
            #expect(page.entries.map(\.value) == wanted.map { Array(expected.value(at: $0)) }, "values at \(offset)")
        }
        let touched = Set(base.keys).union(map.entries.keys).filter { base[$0] != map.entries[$0] }
        #expect(touched.count > 200)
        for key in touched.sorted().prefix(100) + base.keys.sorted().prefix(20) {
            let bytes = Fixtures.bytes(key)
            #expect(try store.withReadConnection { try $0.mapValue(of: layered, fd: 3, key: bytes) } == map.entries[key].map(Fixtures.bytes), "key \(key)")
            let values = try store.withReadConnection { try $0.keyValues(fd: 3, key: bytes, segment: Fixtures.meta.segmentName) }
            #expect(values.map(\.snapshot) == [first, layered])
            #expect(values.map(\.value) == [base[key].map(Fixtures.bytes), map.entries[key].map(Fixtures.bytes)], "key \(key) over time")
        }
    }
}

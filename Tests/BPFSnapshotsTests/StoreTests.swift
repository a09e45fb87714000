import BPFModel
@testable import BPFSnapshots
import Foundation
import Testing

@Suite struct StoreTests {
    @Test func everyKindRoundTrips() throws {
        let dir = TemporaryDirectory()
        let store = try SnapshotStore(path: dir.file("s.db"))
        let records = Fixtures.everyKind()
        let id = try store.save(records.reversed(), meta: Fixtures.meta)
        #expect(try store.records(of: id) == records)

        let info = try store.info(id)
        #expect(info.id == id && info.segmentName == "bpftime_maps_shm" && info.host == "testhost")
        #expect(info.generation == 7 && info.handlerCount == records.count && info.parent == nil && info.tags.isEmpty)
        #expect(abs(info.createdAt.timeIntervalSinceNow) < 60)
    }

    /// A change recorded as its written entries closes the history without checkpointing its
    /// log (no fsync per change): the log stays beside the file, and what the change committed
    /// reads back through a new connection, a read-only one included.
    @Test func aRecordedChangeLeavesTheLogAndLosesNothing() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.db")
        func map(_ pairs: [(UInt32, UInt64)]) -> HandlerRecord {
            HandlerRecord(fd: 3, handler: .map(MapHandler(
                name: "m", attributes: MapAttributes(mapType: 1, keySize: 4, valueSize: 8, maxEntries: 64), contents: Fixtures.hashMap(pairs))))
        }
        var meta = Fixtures.meta
        meta.segmentInstance = 1
        do { _ = try SnapshotStore(path: path).save([map((0 ..< 32).map { ($0, UInt64($0)) })], meta: meta) }
        do {
            let store = try SnapshotStore(path: path, access: .change)
            let base = try #require(try store.changeBase(segment: meta.segmentName, fd: 3, writes: 1))
            let write = MapEntryWrites(fd: 3, entries: [(Fixtures.bytes(UInt32(5)), Fixtures.bytes(UInt64(500)))])
            #expect(try store.saveChange(write, over: base, meta: meta)?.created == true)
        }
        let log = try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int ?? 0
        #expect(log > 0, "the change's commit is still in the log")
        let reader = try SnapshotStore(path: path, access: .read)
        #expect(try reader.records(of: 2) == [map((0 ..< 32).map { ($0, $0 == 5 ? 500 : UInt64($0)) })])
    }

    @Test func bigMapsRoundTripInTheirKeyOrder() throws {
        let dir = TemporaryDirectory()
        let store = try SnapshotStore(path: dir.file("s.db"))
        // Keys given in descending order come back sorted by key bytes, as the store keeps them.
        var m = MapContents(keySize: 8, valueSize: 3)
        for i in stride(from: 20_000, to: 0, by: -1) { m.append(key: Fixtures.bytes(UInt64(i).bigEndian), value: [1, 2, UInt8(i & 0xff)]) }
        let record = HandlerRecord(fd: 1, handler: .map(MapHandler(
            name: "wide", attributes: MapAttributes(mapType: 1, keySize: 8, valueSize: 3, maxEntries: 30_000), contents: m)))
        let id = try store.save([record], meta: Fixtures.meta)
        guard case .map(let loaded) = try store.records(of: id).first?.handler, let contents = loaded.contents else {
            Issue.record("map not loaded"); return
        }
        #expect(contents.count == 20_000)
        #expect(Array(contents.key(at: 0)) == Fixtures.bytes(UInt64(1).bigEndian))
        #expect(Array(contents.value(at: 19_999)) == [1, 2, UInt8(20_000 & 0xff)])
        #expect(try store.diff(id, id).isEmpty)
        #expect(SnapshotDiffer.diff([record], try store.records(of: id)).isEmpty)
    }

    @Test func unchangedSaveAddsLittle() throws {
        let dir = TemporaryDirectory()
        let store = try SnapshotStore(path: dir.file("s.db"))
        let records = [Fixtures.bigMap(100_000)] + Fixtures.everyKind().filter { $0.fd != 3 }
        _ = try store.save(records, meta: Fixtures.meta)
        let first = try store.usedBytes()
        _ = try store.save(records, meta: Fixtures.meta)
        let second = try store.usedBytes()
        #expect(first > 1_000_000)
        #expect(second - first < 16 * 1024)

        // One changed entry stores one chunk, not the map again.
        var changed = records
        if case .map(var m) = changed[0].handler, var contents = m.contents {
            contents.values[8 * 500] ^= 0xff
            m.contents = contents
            changed[0].handler = .map(m)
        }
        _ = try store.save(changed, meta: Fixtures.meta)
        #expect(try store.usedBytes() - second < 128 * 1024)
        #expect(try Fixtures.query(dir.file("s.db"), "SELECT count(*) AS n FROM map_contents WHERE entry_count = 100000").first?["n"] as? Int == 2)
    }

    @Test func mapsListedInAnotherOrderShareTheirContents() throws {
        let dir = TemporaryDirectory()
        let store = try SnapshotStore(path: dir.file("s.db"))
        let record = Fixtures.bigMap(20_000)
        guard case .map(var m) = record.handler, let c = m.contents else { return }
        var reversed = MapContents(keySize: 4, valueSize: 8)
        for i in (0..<c.count).reversed() { reversed.append(key: c.key(at: i), value: c.value(at: i)) }
        m.contents = reversed
        let a = try store.save([record], meta: Fixtures.meta)
        // Listed as before: found by fingerprint, nothing sorted or chunked.
        #expect(try PreparedState.prepare([record], store.pool).first?.map == nil)
        let b = try store.save([HandlerRecord(fd: 3, handler: .map(m))], meta: Fixtures.meta)
        // (Given in key order and loaded in key-byte order: the same entries.)
        #expect(SnapshotDiffer.diff(try store.records(of: a), [record]).isEmpty)
        #expect(try store.records(of: b) == store.records(of: a))
        let counts = try Fixtures.query(dir.file("s.db"), "SELECT (SELECT count(*) FROM map_contents) AS contents, (SELECT count(*) FROM map_content_sources) AS sources, (SELECT count(*) FROM handler_states) AS states").first
        #expect(counts?["contents"] as? Int == 1 && counts?["sources"] as? Int == 2 && counts?["states"] as? Int == 1)
    }

    @Test func contentsCollectedBetweenPreparingAndStoringAreStoredAgain() throws {
        let dir = TemporaryDirectory()
        let store = try SnapshotStore(path: dir.file("s.db"))
        let record = Fixtures.bigMap(3_000)
        let first = try store.save([record], meta: Fixtures.meta)
        let prepared = try PreparedState.prepare([record], store.pool)
        #expect(prepared.first?.map == nil)
        try store.remove(first)
        try store.collectGarbage()
        let id = try store.save([record], meta: Fixtures.meta)   // prepares afresh: nothing known
        #expect(SnapshotDiffer.diff(try store.records(of: id), [record]).isEmpty)
        // The state prepared while the contents still existed stores them again.
        try store.remove(id)
        try store.collectGarbage()
        let state = try store.pool.write { db in try prepared[0].store(db, parent: nil) }
        let row = try Fixtures.query(dir.file("s.db"), "SELECT m.entry_count AS n, (SELECT count(*) FROM chunk_entries) AS entries FROM handler_states s JOIN map_contents m ON m.id = s.map_content WHERE s.id = \(state)").first
        #expect(row?["n"] as? Int == 3_000 && row?["entries"] as? Int == 3_000)
    }

    @Test func listTagsResolveRemove() throws {
        let dir = TemporaryDirectory()
        let store = try SnapshotStore(path: dir.file("s.db"))
        let a = try store.save(Fixtures.everyKind(), meta: SnapshotMeta(segmentName: "seg", host: "h", generation: 1, message: "first", tags: ["base"]))
        let b = try store.save([], meta: SnapshotMeta(segmentName: "seg", host: "h", generation: 2))
        let other = try store.save([], meta: SnapshotMeta(segmentName: "other", host: "h", generation: 1))
        let c = try store.save([], meta: SnapshotMeta(segmentName: "seg", host: "h", generation: 3))
        try store.tag(b, "v2")
        try store.tag(b, "v2-again")
        try store.tag(b, "v2")  // same snapshot: fine

        let list = try store.list()
        #expect(list.map(\.id) == [a, b, other, c])
        #expect(list.map(\.parent) == [nil, a, nil, b])
        #expect(list[0].tags == ["base"] && list[0].message == "first" && list[0].handlerCount == 13)
        #expect(list[1].tags == ["v2", "v2-again"] && list[1].handlerCount == 0)

        #expect(try store.resolve("base") == a)
        #expect(try store.resolve(String(c)) == c)
        #expect(throws: SnapshotError.unknownSnapshot("nope")) { try store.resolve("nope") }
        #expect(throws: SnapshotError.unknownSnapshot("99")) { try store.resolve("99") }
        #expect(throws: SnapshotError.unknownSnapshot("99")) { try store.info(99) }
        #expect(throws: SnapshotError.unknownSnapshot("99")) { try store.records(of: 99) }
        #expect(throws: SnapshotError.unknownSnapshot("99")) { try store.remove(99) }
        #expect(throws: SnapshotError.unknownSnapshot("99")) { try store.tag(99, "x") }
        #expect(throws: SnapshotError.tagTaken(tag: "base", snapshot: a)) { try store.tag(b, "base") }
        #expect(throws: SnapshotError.invalidTag("12")) { try store.tag(b, "12") }
        #expect(throws: SnapshotError.invalidTag("a b")) { try store.tag(b, "a b") }
        // A save whose tag is taken records nothing.
        #expect(throws: SnapshotError.tagTaken(tag: "base", snapshot: a)) {
            try store.save([], meta: SnapshotMeta(segmentName: "seg", host: "h", generation: 4, tags: ["base"]))
        }
        #expect(try store.list().count == 4)

        try store.remove(b)
        #expect(try store.list().map(\.id) == [a, other, c])
        #expect(try store.info(c).parent == a)
        #expect(throws: SnapshotError.unknownSnapshot("v2")) { try store.resolve("v2") }
    }

    @Test func garbageCollectionDropsOnlyUnusedContent() throws {
        let dir = TemporaryDirectory()
        let store = try SnapshotStore(path: dir.file("s.db"))
        let a = try store.save([Fixtures.bigMap(5_000)] + Fixtures.everyKind().filter { $0.fd != 3 }, meta: Fixtures.meta)
        let b = try store.save([Fixtures.bigMap(5_000, factor: 3)], meta: Fixtures.meta)
        let nothing = try store.collectGarbage()
        #expect(nothing.blobs == 0 && nothing.chunks == 0)
        let kept = try store.records(of: b)
        try store.remove(a)
        let collected = try store.collectGarbage()
        #expect(collected.blobs == 1)   // the program's bytecode
        #expect(collected.chunks > 0)
        #expect(try store.records(of: b) == kept)
        let left = try Fixtures.query(dir.file("s.db"), "SELECT (SELECT count(*) FROM chunk_entries) AS entries, (SELECT count(*) FROM map_content_sources) AS sources").first
        #expect(left?["entries"] as? Int == 5_000 && left?["sources"] as? Int == 1)
        #expect(try store.integrityCheck() == ["ok"])
    }

    @Test func invalidRecordsAreRefusedWholesale() throws {
        let dir = TemporaryDirectory()
        let store = try SnapshotStore(path: dir.file("s.db"))
        var duplicate = Fixtures.hashMap([(1, 1), (1, 2)])
        duplicate.keySize = 4
        let bad: [(HandlerRecord, String)] = [
            (HandlerRecord(fd: 1, handler: .map(MapHandler(name: "d", attributes: MapAttributes(mapType: 1, keySize: 4, valueSize: 8, maxEntries: 2), contents: duplicate))), "duplicate map key 01000000"),
            (HandlerRecord(fd: 2, handler: .map(MapHandler(name: "short", attributes: MapAttributes(mapType: 1, keySize: 4, valueSize: 8, maxEntries: 2),
                                                          contents: MapContents(keySize: 4, valueSize: 8, keys: [1, 2], values: [UInt8](repeating: 0, count: 8))))),
             "2 key bytes for 1 entries of 4-byte keys"),
            (HandlerRecord(fd: 3, handler: .program(ProgramHandler(name: "p", type: 1, bytecode: [1, 2, 3]))), "3 bytes of bytecode is not whole 8-byte instructions"),
        ]
        for (record, reason) in bad {
            #expect(throws: SnapshotError.invalidRecord(fd: record.fd, reason: reason)) {
                try store.save(Fixtures.everyKind().filter { $0.fd > 3 } + [record], meta: Fixtures.meta)
            }
        }
        let twice = [Fixtures.everyKind()[1], Fixtures.everyKind()[1]]
        #expect(throws: SnapshotError.invalidRecord(fd: 4, reason: "two handlers at the same fd")) { try store.save(twice, meta: Fixtures.meta) }
        #expect(try store.list().isEmpty)
    }

    @Test func duplicateKeysAreCaughtEvenAcrossChunkBoundaries() throws {
        // A key that ends a chunk, given twice: the copies land in two different chunks.
        let boundary = (UInt32(0)...).first { Fixtures.bytes($0).withUnsafeBytes(MapChunks.isBoundary) } ?? 0
        guard case .map(let m) = Fixtures.bigMap(5_000).handler, var contents = m.contents else { return }
        contents.append(key: Fixtures.bytes(boundary), value: Fixtures.bytes(UInt64(1)))
        #expect(boundary < 5_000)
        #expect(throws: SnapshotError.invalidRecord(fd: 3, reason: "duplicate map key \(Hex.encode(Fixtures.bytes(boundary)))")) {
            _ = try MapChunks(contents, fd: 3)
        }
    }

    @Test func aQueueAndAHashMapWithTheSameStoredBytesStayApart() throws {
        let dir = TemporaryDirectory()
        let store = try SnapshotStore(path: dir.file("s.db"))
        var queue = MapContents(keySize: 0, valueSize: 8)
        var hash = MapContents(keySize: 4, valueSize: 8)
        for i: UInt32 in 0..<3 {
            queue.append(key: [], value: Fixtures.bytes(UInt64(i)))
            hash.append(key: Fixtures.bytes(i.bigEndian), value: Fixtures.bytes(UInt64(i)))  // the queue's stored keys
        }
        let records = [
            HandlerRecord(fd: 1, handler: .map(MapHandler(name: "q", attributes: MapAttributes(mapType: 22, keySize: 0, valueSize: 8, maxEntries: 3), contents: queue))),
            HandlerRecord(fd: 2, handler: .map(MapHandler(name: "h", attributes: MapAttributes(mapType: 1, keySize: 4, valueSize: 8, maxEntries: 3), contents: hash))),
        ]
        let id = try store.save(records, meta: Fixtures.meta)
        #expect(try store.records(of: id) == records)
    }

    @Test func defaultPathAndFileMode() throws {
        #expect(SnapshotStore.defaultPath(environment: ["BPFTIME_SNAP_DB": "/x/y.db", "HOME": "/home/u"]) == "/x/y.db")
        #expect(SnapshotStore.defaultPath(environment: ["HOME": "/home/u"]) == "/home/u/.bpftime/snapshots.db")
        let dir = TemporaryDirectory()
        let path = SnapshotStore.defaultPath(environment: ["HOME": dir.path])
        _ = try SnapshotStore(path: path)
        let file = try FileManager.default.attributesOfItem(atPath: path)
        #expect((file[.posixPermissions] as? Int) == 0o600)
        let directory = try FileManager.default.attributesOfItem(atPath: dir.path + "/.bpftime")
        #expect((directory[.posixPermissions] as? Int) == 0o700)
    }
}

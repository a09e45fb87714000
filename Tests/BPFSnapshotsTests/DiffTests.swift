import BPFModel
@testable import BPFSnapshots
import Testing

@Suite struct DiffTests {
    /// Every kind of change at once: one handler added, one removed, and changed ones.
    static func changedState() -> [HandlerRecord] {
        var records = Fixtures.everyKind().filter { $0.fd != 14 }          // epoll removed
        records.append(HandlerRecord(fd: 20, handler: .memfd(MemfdHandler(name: "new"))))  // added
        for i in records.indices {
            switch records[i].handler {
            case .map(var m) where m.name == "counts":
                // key 2 changed, key 1 removed, key 5 added
                m.contents = Fixtures.hashMap([(2, 21), (0x0300_0000, 7), (5, 50)])
                m.attributes.maxEntries = 128
                records[i].handler = .map(m)
            case .program(var p):
                // insert one instruction at slot 1
                p.bytecode = Fixtures.program([0x0000_0001_0000_00b7, 0x0000_0002_0000_0007, 0x95])
                records[i].handler = .program(p)
            case .perfEvent(var e) where records[i].fd == 7:
                e.enabled = false
                records[i].handler = .perfEvent(e)
            default: break
            }
        }
        return records
    }

    func checkChanges(_ diff: SnapshotDiff, mapContentsLoaded: Bool) {
        #expect(diff.added.map(\.fd) == [20])
        #expect(diff.removed == [HandlerRecord(fd: 14, handler: .epoll)])
        #expect(diff.changed.map(\.fd) == [3, 7, 12])
        guard diff.changed.count == 3 else { return }

        let map = diff.changed[0]
        #expect(map.attributeChanges.map { [$0.name, $0.old, $0.new] } == [["max_entries", "64", "128"]])
        #expect(map.instructionChanges.isEmpty)
        #expect(map.mapChanges.entries.map { [$0.key, $0.old ?? [], $0.new ?? []] } == [
            [Fixtures.bytes(UInt32(1)), Fixtures.bytes(UInt64(10)), []],
            [Fixtures.bytes(UInt32(2)), Fixtures.bytes(UInt64(20)), Fixtures.bytes(UInt64(21))],
            [Fixtures.bytes(UInt32(5)), [], Fixtures.bytes(UInt64(50))],
        ])
        #expect(map.mapChanges.addedCount == 1 && map.mapChanges.removedCount == 1 && map.mapChanges.changedCount == 1)
        if case .map(let m) = map.old.handler { #expect((m.contents != nil) == mapContentsLoaded) }

        let event = diff.changed[1]
        #expect(event.attributeChanges.map { [$0.name, $0.old, $0.new] } == [["enabled", "true", "false"]])

        let program = diff.changed[2]
        #expect(program.attributeChanges.isEmpty)
        #expect(program.instructionChanges.map(\.operation) == [.kept, .inserted, .kept])
        #expect(program.instructionChanges.map(\.oldIndex) == [0, nil, 1])
        #expect(program.instructionChanges.map(\.newIndex) == [0, 1, 2])
        #expect(program.instructionChanges[1].bytes == Fixtures.bytes(UInt64(0x0000_0002_0000_0007)))
    }

    @Test func pureDiffReportsExactlyTheChanges() {
        let diff = SnapshotDiffer.diff(Fixtures.everyKind(), Self.changedState())
        checkChanges(diff, mapContentsLoaded: true)
        #expect(SnapshotDiffer.diff(Fixtures.everyKind(), Fixtures.everyKind().reversed()).isEmpty)
    }

    @Test func storeDiffAgreesWithPureDiff() throws {
        let dir = TemporaryDirectory()
        let store = try SnapshotStore(path: dir.file("s.db"))
        let a = try store.save(Fixtures.everyKind(), meta: Fixtures.meta)
        let b = try store.save(Self.changedState(), meta: Fixtures.meta)
        checkChanges(try store.diff(a, b), mapContentsLoaded: false)
        checkChanges(try store.diff(a, live: Self.changedState()), mapContentsLoaded: false)
        #expect(try store.diff(a, a).isEmpty)
        // Live maps listed in another order are the same state.
        #expect(try store.diff(a, live: Fixtures.everyKind().reversed().map { record in
            guard case .map(var m) = record.handler, let c = m.contents, c.keySize > 0 else { return record }
            var reordered = MapContents(keySize: c.keySize, valueSize: c.valueSize, valuesPerEntry: c.valuesPerEntry)
            for i in (0..<c.count).reversed() { reordered.append(key: c.key(at: i), value: c.value(at: i)) }
            m.contents = reordered
            return HandlerRecord(fd: record.fd, handler: .map(m))
        }).isEmpty)
        #expect(throws: SnapshotError.unknownSnapshot("42")) { try store.diff(a, 42) }
    }

    @Test func kindChangeAndQueueDiff() {
        let old = [HandlerRecord(fd: 1, handler: .memfd(MemfdHandler(name: "x"))),
                   Fixtures.everyKind()[2]]
        var queue = MapContents(keySize: 0, valueSize: 4)
        for v: UInt32 in [10, 20, 40, 50] { queue.append(key: [], value: Fixtures.bytes(v)) }
        let new = [HandlerRecord(fd: 1, handler: .epoll),
                   HandlerRecord(fd: 5, handler: .map(MapHandler(
                       name: "queue", attributes: MapAttributes(mapType: 22, keySize: 0, valueSize: 4, maxEntries: 8), contents: queue)))]
        let diff = SnapshotDiffer.diff(old, new)
        #expect(diff.changed.first?.attributeChanges.map { [$0.name, $0.old, $0.new] } == [
            ["kind", "memfd", "epoll"], ["name", "x", "-"], ["flags", "0", "-"],
        ])
        // Queues compare by position: [30, 10, 20] → [10, 20, 40, 50].
        let changes = diff.changed.last?.mapChanges
        #expect(changes?.changedCount == 3 && changes?.addedCount == 1 && changes?.removedCount == 0)
        #expect(changes?.entries.last?.key == [0, 0, 0, 3])
    }

    @Test func countOnlyModeKeepsNoEntries() throws {
        let dir = TemporaryDirectory()
        let store = try SnapshotStore(path: dir.file("s.db"))
        let a = try store.save([Fixtures.bigMap(30_000)], meta: Fixtures.meta)
        let b = try store.save([Fixtures.bigMap(30_000, factor: 2)], meta: Fixtures.meta)
        let counts = try store.diff(a, b, mapDetail: .counts).changed.first?.mapChanges
        #expect(counts?.changedCount == 29_999)   // key 0 keeps value 0
        #expect(counts?.changed.count == 0 && counts?.added.count == 0)
        let full = try store.diff(a, b).changed.first?.mapChanges
        #expect(full?.changed.count == 29_999)
        // In key-byte order, little-endian 256 (00 01 00 00) comes first after 0.
        #expect(full?.changed.key(at: 0) == Fixtures.bytes(UInt32(256))[...])
        #expect(full?.changed.newValue(at: 0) == Fixtures.bytes(UInt64(512))[...])
    }

    @Test func storeDiffOfOneChangedEntryInABigMap() throws {
        let dir = TemporaryDirectory()
        let store = try SnapshotStore(path: dir.file("s.db"))
        var changed = Fixtures.bigMap(50_000)
        if case .map(var m) = changed.handler, var c = m.contents {
            c.values[8 * 40_000] = 0xee   // key 40000
            c.keys += Fixtures.bytes(UInt32(70_000)); c.values += Fixtures.bytes(UInt64(1))
            m.contents = c
            changed.handler = .map(m)
        }
        let a = try store.save([Fixtures.bigMap(50_000)], meta: Fixtures.meta)
        let b = try store.save([changed], meta: Fixtures.meta)
        for entries in [try store.diff(a, b).changed.first?.mapChanges.entries ?? [],
                        try store.diff(a, live: [changed]).changed.first?.mapChanges.entries ?? []] {
            #expect(entries.map(\.key) == [Fixtures.bytes(UInt32(40_000)), Fixtures.bytes(UInt32(70_000))])
            #expect(entries.first?.new?.first == 0xee)
        }
    }

    @Test func instructionEditsAreMinimalAndReplayable() {
        let old: [UInt64] = [1, 2, 3, 4, 5, 6, 7, 8]
        let new: [UInt64] = [1, 9, 3, 4, 6, 7, 10, 8, 11]
        let edits = InstructionDiff.edits(Fixtures.program(old), Fixtures.program(new))
        #expect(edits.filter { $0.operation != .kept }.count == 5)   // 2→9 (two edits), -5, +10, +11
        // Replaying the script rebuilds both programs.
        #expect(edits.filter { $0.operation != .inserted }.map(\.bytes) == old.map { Fixtures.bytes($0) })
        #expect(edits.filter { $0.operation != .deleted }.map(\.bytes) == new.map { Fixtures.bytes($0) })
        #expect(edits.compactMap(\.oldIndex) == Array(0..<8))
        #expect(edits.compactMap(\.newIndex) == Array(0..<9))
        #expect(InstructionDiff.edits(Fixtures.program(old), Fixtures.program(old)).allSatisfy { $0.operation == .kept })
    }

    @Test func hugeInstructionRewritesStayCorrect() {
        let old = (0..<3000).map { UInt64($0) }, new = (0..<3000).map { UInt64($0 + 10_000) }
        let edits = InstructionDiff.edits(Fixtures.program(old), Fixtures.program(new))
        #expect(edits.filter { $0.operation == .deleted }.count == 3000)
        #expect(edits.filter { $0.operation == .inserted }.map(\.bytes) == new.map { Fixtures.bytes($0) })
    }
}

@testable import BPFSegment
@testable import BPFState
import BPFModel
import BPFRuntime
import BPFSnapshots
import Foundation
import Testing

extension StateTests {
    @Suite struct RestoreTests {
        static let meta = SnapshotMeta(segmentName: "file", host: "test", generation: 0)

        /// Issue 9, item 1: native code from the history is checked like imported code.
        @Test func tamperedNativeCodeIsNotRestored() throws {
            try Scratch.with { s in
                try s.state.importRecords([constantProgram(fd: 4, 7)])
                let shm = try s.state.open()
                try SegmentProgram(segment: shm, fd: 4).compileAOT()
                guard case .program(var program) = try #require(try shm.handler(at: 4)) else { Issue.record("no program"); return }
                let image = try #require(program.aotImage)
                program.aotImage = image.enumerated().map { $0.offset == image.count / 2 ? $0.element ^ 0xff : $0.element }
                let store = try s.store()
                let tampered = try store.save([HandlerRecord(fd: 4, handler: .program(program))], meta: Self.meta)
                try s.state.unload(4)
                let before = try s.state.read()
                let error = #expect(throws: RuntimeError.self) { try s.state.restore(RestoreRequest(snapshot: tampered), store: store) }
                #expect(error?.description.contains("attr.aot_insns is not the native code") == true)
                #expect(try s.state.read() == before, "the segment is untouched")
                #expect(try s.snapshotIDs() == [tampered], "a refused restore records no undo snapshot")
            }
        }

        /// Item 2: maps are compared by content; the order the segment lists entries in does not matter.
        @Test func unchangedMapListedInAnotherOrderIsNotReplaced() throws {
            try Scratch.with { s in
                try s.state.importRecords([hashMap(fd: 3, keys: [9, 5, 1, 7, 3], maxEntries: 16)])
                let shm = try s.state.open()
                try shm.map(at: 3).delete(key: le32(5))
                try shm.map(at: 3).update(key: le32(5), value: le64(5)) // same content, another pool order
                let store = try s.store()
                let saved = try s.state.save(to: store).id
                #expect(try s.state.diff(.stored(String(saved)), .live, store: store).isEmpty)
                let dryRun = try s.state.restore(RestoreRequest(snapshot: saved, dryRun: true), store: store)
                #expect(dryRun.plan.isEmpty, "a restore plans nothing where the diff sees nothing")

                try shm.map(at: 3).update(key: le32(7), value: le64(70))
                let plan = try s.state.restore(RestoreRequest(snapshot: saved, dryRun: true), store: store).plan
                #expect(plan.replace.map(\.fd) == [3] && plan.create.isEmpty && plan.remove.isEmpty)
            }
        }

        /// Item 3: a map larger than half the segment is restored in place, in the default 20 MiB size.
        @Test func mapLargerThanHalfTheSegmentIsRestoredInPlace() throws {
            try Scratch.with(sizeMB: SegmentConfiguration.defaultSizeMB) { s in
                try s.state.importRecords([hashMap(fd: 3, keys: Array(0 ..< 400_000))])
                let shm = try s.state.open()
                #expect(shm.status().usedBytes > (SegmentConfiguration.defaultSizeMB << 20) / 2, "the map takes more than half the segment")
                let store = try s.store()
                let saved = try s.state.save(to: store).id
                let expected = try s.state.read().records
                let map = try shm.map(at: 3)
                try map.update(key: le32(123), value: le64(9))
                for k in UInt32(1000) ..< 1100 { try map.delete(key: le32(k)) }
                for k in UInt32(500_000) ..< 500_050 { try map.update(key: le32(k), value: le64(1)) }

                let outcome = try s.state.restore(RestoreRequest(snapshot: saved), store: store)
                #expect(outcome.plan.replace.map(\.fd) == [3])
                #expect(try s.state.diff(.stored(String(saved)), .live, store: store).isEmpty)
                #expect(try SnapshotDiffer.diff(s.state.read().records, expected).isEmpty)
                #expect(try map.lookup(key: le32(123)) == le64(123), "a map opened before the restore sees the restored entries")
                #expect(shm.check() == [])
            }
        }

        /// A delta too big for the undo journal is applied by building a new copy when it fits.
        @Test func deltaLargerThanTheJournalBuildsANewCopy() throws {
            try Scratch.with { s in
                try s.state.importRecords([hashMap(fd: 3, keys: Array(0 ..< 20_000))])
                let store = try s.store()
                let saved = try s.state.save(to: store).id
                let shm = try s.state.open()
                try shm.transaction { tx in
                    _ = try tx.apply([hashMap(fd: 3, keys: Array(0 ..< 20_000), factor: 3)], replaceExisting: true)
                }
                _ = try s.state.restore(RestoreRequest(snapshot: saved), store: store)
                #expect(try s.state.diff(.stored(String(saved)), .live, store: store).isEmpty)
                #expect(shm.check() == [])
            }
        }

        /// Items 4 and 5: the undo snapshot holds exactly the state the restore replaced, and a
        /// restore that fails records nothing and changes nothing.
        @Test func failedRestoreLeavesNoSnapshotAndNoChange() throws {
            try Scratch.with(sizeMB: 2) { s in
                try s.state.importRecords([hashMap(fd: 3, keys: [1, 2, 3])])
                let store = try s.store()
                // A snapshot whose map cannot fit this segment.
                let huge = try store.save([hashMap(fd: 3, keys: Array(0 ..< 200_000))], meta: Self.meta)
                let before = try s.state.read()
                #expect(throws: SegmentError.self) { try s.state.restore(RestoreRequest(snapshot: huge), store: store) }
                #expect(try s.state.read() == before)
                #expect(try s.snapshotIDs() == [huge])
                #expect(try store.integrityCheck() == ["ok"])
            }
        }

        @Test func undoSnapshotAndRestoreRecordDescribeTheRestore() throws {
            try Scratch.with { s in
                try s.state.importRecords([hashMap(fd: 3, keys: [1, 2]), constantProgram(fd: 4, 1)])
                let store = try s.store()
                let saved = try s.state.save(to: store).id
                try s.state.unload(4)
                try s.state.load(constantProgram(fd: 5, 2))
                let before = try s.state.read()
                let outcome = try s.state.restore(RestoreRequest(snapshot: saved), store: store)
                let undo = try #require(outcome.undoSnapshot)
                #expect(try store.records(of: undo) == before.records)
                #expect(try store.info(undo).generation == before.generation)
                #expect(outcome.generation == before.generation + 1, "nothing ran between the read and the apply")
                #expect(try store.info(undo).undoOf?.snapshot == saved)
                #expect(try store.info(undo).undoOf?.fds == [4, 5])
            }
        }

        /// Item 6: a missing segment is an error unless creating it is asked for.
        @Test func missingSegmentIsNotCreatedUnlessAsked() throws {
            try Scratch.with { s in
                let store = try s.store()
                let saved = try store.save([hashMap(fd: 3, keys: [1])], meta: Self.meta)
                #expect(throws: SegmentError.missing(name: s.state.segmentName)) {
                    try s.state.restore(RestoreRequest(snapshot: saved), store: store)
                }
                #expect(throws: SegmentError.missing(name: s.state.segmentName)) { try s.state.open() }
                #expect(try s.snapshotIDs() == [saved])
                _ = try s.state.restore(RestoreRequest(snapshot: saved, createSegment: true), store: store)
                #expect(try s.state.read().records.map(\.fd) == [3])
            }
        }

        /// Item 10: documents are checked for the history as import checks them.
        @Test func documentsAreValidatedAsImportValidatesThem() throws {
            try Scratch.with { s in
                var link = HandlerRecord(fd: 9, handler: .link(LinkHandler(programFD: 4, targetFD: 5)))
                #expect(throws: SegmentError.danglingReference(fd: 9, field: "prog_fd", target: 4)) { try s.state.validateDocument([link]) }
                var array = MapContents(keySize: 4, valueSize: 8)
                array.append(key: le32(4), value: le64(1))
                let tooFar = HandlerRecord(fd: 3, handler: .map(MapHandler(
                    name: "a", attributes: MapAttributes(mapType: MapKind.array.linuxType, keySize: 4, valueSize: 8, maxEntries: 4), contents: array)))
                #expect(throws: SegmentError.self) { try s.state.validateDocument([tooFar]) }
                link.handler = .epoll
                try s.state.validateDocument([link, hashMap(fd: 3, keys: [1, 2])])
                #expect(throws: SegmentError.missing(name: s.state.segmentName)) { try s.state.open() }
            }
        }
    }
}

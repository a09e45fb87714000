@testable import BPFSegment
@testable import BPFState
import BPFModel
import BPFSnapshots
import Foundation
import Testing

extension StateTests {
    /// Issue 11's remainder: prog_array data names programs only, dangling references in
    /// partial restores, and the freeze carried by the history.
    @Suite struct DanglingAndFrozenTests {
        static let meta = SnapshotMeta(segmentName: "file", host: "test", generation: 0)

        /// A prog_array at `fd` whose slot i holds `programs[i]`.
        static func progArray(fd: Int, _ programs: [UInt32], maxEntries: UInt32 = 8) -> HandlerRecord {
            var contents = MapContents(keySize: 4, valueSize: 4)
            for (i, program) in programs.enumerated() { contents.append(key: le32(UInt32(i)), value: le32(program)) }
            let attributes = MapAttributes(mapType: MapKind.progArray.linuxType, keySize: 4, valueSize: 4, maxEntries: maxEntries)
            return HandlerRecord(fd: fd, handler: .map(MapHandler(name: "jumps", attributes: attributes, contents: contents)))
        }

        static func slots(_ state: ConsistentState, fd: Int) -> [(index: UInt32, program: UInt32)] {
            guard case .map(let map)? = state.records.first(where: { $0.fd == fd })?.handler else { return [] }
            return map.contents?.programSlots() ?? []
        }

        @Test func progArrayDataNamingNoProgramIsRefusedOrDropped() throws {
            try Scratch.with { s in
                let document = [constantProgram(fd: 4, 1), hashMap(fd: 9, keys: [1]), Self.progArray(fd: 3, [4, 9])]
                #expect(throws: SegmentError.notAProgram(fd: 3, index: 1, target: 9)) { try s.state.importRecords(document) }
                #expect(throws: SegmentError.notAProgram(fd: 3, index: 1, target: 9)) { try s.state.validateDocument(document) }
                #expect(throws: SegmentError.self) { _ = try s.state.read() } // nothing was created

                let done = try s.state.importRecords(document, allowingDanglingAttachments: true).value
                #expect(done.droppedProgramSlots == [StaleProgramSlot(map: 3, index: 1, program: 9)])
                #expect(Self.slots(try s.state.read(), fd: 3).map(\.program) == [4], "the program's slot stays, the map's is dropped")
                // Against the segment too: a later load naming fd 9 (a map) is refused, fd 4 accepted.
                #expect(throws: SegmentError.notAProgram(fd: 5, index: 0, target: 9)) { try s.state.load(Self.progArray(fd: 5, [9])) }
                try s.state.load(Self.progArray(fd: 5, [4]))
            }
        }

        /// `unload` empties the slots that held the program, under the same lock, so no
        /// snapshot holds a stale fd; the undo journal puts them back if the apply fails.
        @Test func unloadEmptiesTheSlotsOfTheProgram() throws {
            try Scratch.with { s in
                try s.state.importRecords([constantProgram(fd: 4, 1), constantProgram(fd: 5, 2), Self.progArray(fd: 3, [4, 5, 4])])
                try s.state.unload(4)
                let after = try s.state.read()
                #expect(Self.slots(after, fd: 3).map(\.index) == [1] && Self.slots(after, fd: 3).map(\.program) == [5])
                #expect(try s.state.open().check() == [])
                let store = try s.store()
                let saved = try s.state.save(to: store).id
                #expect(Self.slots(ConsistentState(segmentName: "history", generation: 0, records: try store.records(of: saved)), fd: 3).map(\.program) == [5])
            }
        }

        /// Emptying slots must fit the undo journal whole (a process killed midway must not leave
        /// slots emptied of a program that stays): more slots than it holds refuse the unload.
        @Test func unloadRefusesWhenEmptyingTheSlotsWouldOverflowTheJournal() throws {
            try Scratch.with { s in
                try s.state.importRecords([constantProgram(fd: 4, 1)])
                let capacity = try s.state.open().journal.capacity
                let slots = capacity / Segment.journalBytesPerSlot + 1
                try s.state.load(Self.progArray(fd: 3, Array(repeating: 4, count: slots), maxEntries: UInt32(slots)))
                #expect(throws: SegmentError.journalTooSmall(what: "emptying the prog_array slots that hold fds [4]",
                                                             neededBytes: slots * Segment.journalBytesPerSlot, capacity: capacity)) {
                    try s.state.unload(4)
                }
                let after = try s.state.read()
                #expect(after.records.map(\.fd) == [3, 4], "nothing was written")
                #expect(Self.slots(after, fd: 3).count == slots)
            }
        }

        /// A snapshot recorded before `unload` emptied slots holds a stale one: restoring it
        /// leaves that entry out, as the kernel would have, and says so.
        @Test func restoreDropsStaleSlotsOfOldSnapshots() throws {
            try Scratch.with { s in
                let store = try s.store()
                let old = try store.save([constantProgram(fd: 4, 1), Self.progArray(fd: 3, [4, 7])], meta: Self.meta)
                let outcome = try s.state.restore(RestoreRequest(snapshot: old, createSegment: true), store: store)
                #expect(outcome.droppedProgramSlots == [StaleProgramSlot(map: 3, index: 1, program: 7)])
                #expect(Self.slots(try s.state.read(), fd: 3).map(\.program) == [4])
            }
        }

        /// `snap restore --fd 4` of a program whose perf event is gone: refused naming the fds,
        /// or with dangling attachments allowed, the program comes back attached to nothing.
        @Test func selectiveRestoreOfProgramWithGoneAttachments() throws {
            try Scratch.with { s in
                var program = constantProgram(fd: 4, 1)
                if case .program(var p) = program.handler { p.attachments = [.init(targetFD: 5)]; program.handler = .program(p) }
                let event = HandlerRecord(fd: 5, handler: .perfEvent(PerfEventHandler(event: .uprobe(.init(moduleName: "victim", offset: 16)))))
                try s.state.importRecords([program, event])
                let store = try s.store()
                let saved = try s.state.save(to: store).id
                try s.state.unload(4)
                try s.state.unload(5)

                let refused = #expect(throws: SnapshotError.danglingAttachments([4: [5]])) {
                    try s.state.restore(RestoreRequest(snapshot: saved, onlyFDs: [4]), store: store)
                }
                #expect(refused?.description.contains("program fd 4 is attached to fd 5, which would hold nothing") == true)
                let outcome = try s.state.restore(RestoreRequest(snapshot: saved, onlyFDs: [4], allowingDanglingAttachments: true), store: store)
                #expect(outcome.plan.danglingAttachments == [4: [5]])
                #expect(try s.state.read().records.map(\.fd) == [4])
                #expect(try s.state.read().records.first?.handler == program.handler)
                // The kept program's target removed by a selective restore is the same rule.
                try s.state.load(event)
                let none = try store.save([program], meta: Self.meta)
                #expect(throws: SnapshotError.danglingAttachments([4: [5]])) {
                    try s.state.restore(RestoreRequest(snapshot: none, onlyFDs: [5]), store: store)
                }
                _ = try s.state.restore(RestoreRequest(snapshot: none, onlyFDs: [5], allowingDanglingAttachments: true), store: store)
                #expect(try s.state.read().records.map(\.fd) == [4])
            }
        }

        /// The freeze is storage state: read with the contents, saved, diffed and restored
        /// (in place and by a new map).
        @Test func freezeTravelsThroughTheHistoryAndExports() throws {
            try Scratch.with { s in
                try s.state.importRecords([hashMap(fd: 3, keys: [1, 2])])
                let store = try s.store()
                let unfrozen = try s.state.save(to: store).id
                try s.state.open().map(at: 3).freeze()
                guard case .map(let live)? = try s.state.read().records.first?.handler else { Issue.record("no map"); return }
                #expect(live.frozen)
                let frozen = try s.state.save(to: store).id
                #expect(frozen != unfrozen, "a freeze is a new state")
                let diff = try s.state.diff(.stored(String(unfrozen)), .live, store: store)
                #expect(diff.changed.first?.attributeChanges.map(\.name) == ["frozen"])

                _ = try s.state.restore(RestoreRequest(snapshot: unfrozen), store: store) // in place
                #expect(try s.state.open().map(at: 3).update(key: le32(1), value: le64(5)) == ())
                try s.state.unload(3)
                _ = try s.state.restore(RestoreRequest(snapshot: frozen), store: store) // a new map
                #expect(throws: SegmentError.self) { try s.state.open().map(at: 3).update(key: le32(1), value: le64(5)) }
            }
        }
    }
}

import BPFModel
import BPFSegment
import BPFSnapshots
@testable import BPFState
import Foundation
import Testing

/// The recorder on a real segment and history, in this process.
@Suite(.serialized) struct RecorderTests {
    let state = RuntimeState(configuration: SegmentConfiguration(
        name: "bpftimetool_recorder_\(getpid())_\(UInt32.random(in: 0 ... .max))", sizeBytes: 4 << 20, maxHandlers: 64))
    let history = FileManager.default.temporaryDirectory.appendingPathComponent("recorder-\(UUID().uuidString).db").path

    var recording: Recording {
        Recording(historyPath: history, provenance: Provenance(command: "test", user: "u", uid: 7, pid: 42, toolVersion: "t"))
    }

    static let counts = HandlerRecord(fd: 3, handler: .map(MapHandler(
        name: "counts", attributes: MapAttributes(mapType: 1, keySize: 4, valueSize: 8, maxEntries: 16))))

    func cleanUp() {
        try? Segment.remove(name: state.segmentName)
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: history + suffix) }
    }

    @Test func aChangeIsRecordedWithItsProvenanceAndAnUnchangedOneIsNot() throws {
        defer { cleanUp() }
        let imported = try state.importRecords([Self.counts], recording: recording, message: "first")
        guard case .recorded(let first) = imported.record else { Issue.record("not recorded: \(String(describing: imported.record))"); return }
        let store = try SnapshotStore(path: history)
        #expect(try store.info(first).provenance == recording.provenance)
        #expect(try store.records(of: first) == state.read().records)

        let updated = try state.changeMap(3, recording: recording) { try $0.update(key: [1, 0, 0, 0], value: [5, 0, 0, 0, 0, 0, 0, 0]) }
        guard case .recorded(let second) = updated.record else { Issue.record("not recorded"); return }
        #expect(second > first)
        #expect(try store.records(of: second) == state.read().records)

        // The same value again changes the generation but not the content: nothing new.
        let again = try state.changeMap(3, recording: recording) { try $0.update(key: [1, 0, 0, 0], value: [5, 0, 0, 0, 0, 0, 0, 0]) }
        #expect(again.record == .unchanged(second))
        #expect(try store.list().count == 2)
    }

    @Test func aFailedChangeRecordsNothingAndNoRecordingRecordsNothing() throws {
        defer { cleanUp() }
        try state.importRecords([Self.counts])
        #expect(throws: (any Error).self) { try state.unload(99, recording: recording) }
        #expect(throws: (any Error).self) {
            try state.changeMap(3, recording: recording) { try $0.update(key: [1], value: [1]) }
        }
        #expect(!FileManager.default.fileExists(atPath: history))
        #expect(try state.unload(3).record == nil)
    }

    @Test func anUnwritableHistoryIsAFailedRecordingAndTheChangeStands() throws {
        defer { cleanUp() }
        let blocked = Recording(historyPath: "/proc/no-such-dir/h.db", provenance: recording.provenance)
        let result = try state.importRecords([Self.counts], recording: blocked)
        guard case .failed(let path, _) = result.record else { Issue.record("expected a failure"); return }
        #expect(path == "/proc/no-such-dir/h.db")
        #expect(try state.read().records.map(\.fd) == [3])
    }

    @Test func commandLinesAreQuotedAndSecretsMasked() {
        #expect(CommandLineText.render(["/usr/bin/bpftimetool", "load", "5", "{\"type\":\"epoll_handler\"}"])
                == "bpftimetool load 5 '{\"type\":\"epoll_handler\"}'")
        #expect(CommandLineText.render(["t", "--db", "postgres://ann:hunter2@db.example/h", "--password", "p", "--token=abc"])
                == "t --db 'postgres://ann:***@db.example/h' --password '***' '--token=***'")
        #expect(CommandLineText.render(["t", "it's"]) == "t 'it'\\''s'")
    }

    @Test func recordingIsOffWhenTheEnvironmentSaysSo() {
        #expect(Recording.unlessDisabled(historyPath: "h", toolVersion: "v", environment: ["BPFTIME_SNAP_RECORD": "0"]) == nil)
        #expect(Recording.unlessDisabled(historyPath: "h", toolVersion: "v", environment: ["BPFTIME_SNAP_RECORD": "1"]) != nil)
        #expect(Recording.unlessDisabled(historyPath: "h", toolVersion: "v", environment: [:])?.provenance.pid == getpid())
    }
}

import BPFSegment
import BPFSnapshots

/// A use case's result, and what became of recording the state it left (nil: not recorded).
public struct Recorded<Value> {
    public var value: Value
    public var record: RecordResult?
}

extension Recorded: Sendable where Value: Sendable {}

extension RuntimeState {
    /// The one way a change reaches the segment and the history: `body` changes the segment
    /// under one hold of its lock, the state it leaves is read in that same hold (so that two
    /// processes changing the segment at once each record exactly their own result), and
    /// once the lock is released that state is saved unless the segment's latest snapshot
    /// already holds it. A failing `body` records nothing; a failing recording leaves the
    /// change in place and says so in the result. Every changing command comes through here
    /// (`prog load` too: its apply is a `body`).
    public func change<T>(creating: Bool = false, recording: Recording?, message: String? = nil,
                          _ body: (SegmentTransaction) throws -> T) throws -> Recorded<T> {
        let (value, after) = try changeAndRead(creating: creating, reading: recording != nil, body)
        return Recorded(value: value, record: recording.flatMap { recording in
            after.map { record($0, recording: recording, message: message) }
        })
    }

    /// `body` under one hold of the lock, then (when `reading`, asked after `body`) the state it
    /// left, read in that hold. Read failures come back as a failure to record: the change is made.
    func changeAndRead<T>(creating: Bool, reading: @autoclosure () -> Bool,
                          _ body: (SegmentTransaction) throws -> T) throws -> (T, Result<ConsistentState, Error>?) {
        try withSegment(creating: creating) { shm in
            try shm.transaction { tx in
                let value = try body(tx)
                return (value, reading() ? Result { try Self.readWhole(tx) } : nil)
            }
        }
    }

    /// The whole state, read after taking every map's program-written mark: what programs wrote
    /// in place is in it, so the next change can start from it (`changeMap`).
    static func readWhole(_ tx: SegmentTransaction) throws -> ConsistentState {
        try tx.takeProgramWriteMarks(tx.programWrittenMaps())
        return try ConsistentState(tx, includeContents: true)
    }

    /// Records a state read by `changeAndRead`.
    func record(_ read: Result<ConsistentState, Error>, recording: Recording, message: String?) -> RecordResult {
        switch read {
        case .success(let state): record(state, recording: recording, message: message)
        case .failure(let error): .failed(historyPath: recording.historyPath, reason: "\(error)")
        }
    }

    /// Saves `state` into the recording's history unless the segment's latest snapshot holds
    /// exactly it. Never throws: a history that is locked past its timeout, unwritable or
    /// from a newer schema gives `.failed`.
    public func record(_ state: ConsistentState, recording: Recording, message: String? = nil) -> RecordResult {
        do {
            var meta = state.meta(message: message)
            meta.provenance = recording.provenance
            var saved: SaveOutcome?
            try recording.withHistory { saved = try $0.saveIfChanged(state.records, meta: meta) }
            guard let outcome = saved else { throw SnapshotError.database("the history was not opened") }
            return outcome.created ? .recorded(outcome.id) : .unchanged(outcome.id)
        } catch {
            return .failed(historyPath: recording.historyPath, reason: "\(error)")
        }
    }
}

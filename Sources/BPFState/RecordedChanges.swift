import BPFLogging
import BPFModel
import BPFRuntime
import BPFSegment
import BPFSnapshots
import Foundation

/// The changes of single maps and programs, each one `change` (made and recorded in one hold
/// of the segment lock).
extension RuntimeState {
    /// Runs `body` on the map at `fd` inside the change: its updates, deletes, pushes and pops
    /// are the change that is recorded. When the segment is, as the change begins, at the
    /// instance and generation of its latest snapshot, that snapshot is the state the change
    /// started from: the change is then recorded as the entries it wrote over it, with the maps
    /// programs wrote in place since (which moves no generation) read whole, without reading
    /// the rest of the segment (see `SnapshotStore.saveChange`). When programs wrote the changed
    /// map itself in place, the whole state is read.
    public func changeMap<T>(_ fd: Int, recording: Recording?, message: String? = nil,
                             _ body: (ChangingMap) throws -> T) throws -> Recorded<T> {
        guard let recording else { return try change(recording: nil) { tx in try body(ChangingMap(tx.map(at: fd))) } }
        // Asked before the change takes the lock, so the segment is never held waiting for the
        // history; a history that is missing or cannot be opened now is opened (created, or its
        // error told) after the change, as for any other change.
        // Only the SQLite store records a change as its written entries.
        let store = recording.open == nil && FileManager.default.fileExists(atPath: recording.historyPath)
            ? try? SnapshotStore(path: recording.historyPath, access: .change) : nil
        let base = try? store?.changeBase(segment: segmentName, fd: fd, writes: 1)
        var entryChange: EntryChange?
        var generation: UInt64 = 0
        let (value, after) = try changeAndRead(creating: false, reading: entryChange == nil) { tx in
            let startedAt = (tx.instance, tx.generation)
            let map = ChangingMap(try tx.map(at: fd))
            let value = try body(map)
            if let base, startedAt == (base.segmentInstance, base.generation) { entryChange = try? EntryChange(map, tx) }
            generation = tx.generation
            return value
        }
        if let entryChange, let base, let store {
            return Recorded(value: value, record: record(entryChange, over: base, generation: generation, into: store,
                                                         recording: recording, message: message))
        }
        return Recorded(value: value, record: after.map { record($0, recording: recording, message: message) })
    }

    /// A map change as the entries it wrote, and the maps programs wrote in place, read whole.
    struct EntryChange {
        var writes: MapEntryWrites
        var programWritten: [HandlerRecord]

        /// Read inside the change's hold of the lock; nil when the entries do not describe the
        /// change or programs wrote the changed map in place (the whole state is read then).
        init?(_ map: ChangingMap, _ tx: SegmentTransaction) throws {
            let marked = try tx.programWrittenMaps()
            guard !marked.contains(map.fd), let writes = try map.writes() else { return nil }
            self.writes = writes
            programWritten = try tx.takeProgramWrites(marked)
        }
    }

    /// Records a map change by its writes over `base` (the state the change began from); when
    /// the history can no longer take it that way, records the segment's state instead, if
    /// nothing changed the segment since (`generation`, the one the change left).
    func record(_ change: EntryChange, over base: ChangeBase, generation: UInt64, into store: SnapshotStore,
                recording: Recording, message: String?) -> RecordResult {
        let writes = change.writes
        do {
            let meta = SnapshotMeta(segmentName: segmentName, host: ConsistentState.hostName, generation: generation,
                                    segmentInstance: base.segmentInstance, message: message, provenance: recording.provenance)
            if let outcome = try store.saveChange(writes, over: base, replacing: change.programWritten, meta: meta) {
                BPFLog.logger("record").debug(
                    "recorded the change's \(writes.entries.count) written entries over snapshot \(base.snapshot), and \(change.programWritten.count) maps programs wrote in place, read whole")
                return outcome.created ? .recorded(outcome.id) : .unchanged(outcome.id)
            }
            let state = try open().transaction { tx in
                (tx.instance, tx.generation) == (base.segmentInstance, generation) ? try ConsistentState(tx, includeContents: true) : nil
            }
            guard let state else {
                return .failed(historyPath: recording.historyPath,
                               reason: "snapshot \(base.snapshot), the state the change began from, can no longer take it, and the segment changed since")
            }
            return record(state, recording: recording, message: message)
        } catch {
            return .failed(historyPath: recording.historyPath, reason: "\(error)")
        }
    }

    /// Compiles the program at `fd` to native code (outside the lock) and stores it beside its
    /// bytecode, refused if another process changed the handler table meanwhile.
    public func compileAOT(_ fd: Int, recording: Recording?, message: String? = nil)
        throws -> Recorded<(program: ProgramHandler, nativeBytes: Int, compileTime: Duration)> {
        let program = try SegmentProgram(segment: open(), fd: fd)
        let compiled = try program.compiledAOT()
        return try change(recording: recording, message: message) { tx in
            try tx.apply([compiled.record], replaceExisting: true, allowingDanglingAttachments: true,
                         ifTableGeneration: program.tableGeneration)
            return (program.handler, compiled.image.serialized.count, compiled.compileTime)
        }
    }
}

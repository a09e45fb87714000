import BPFModel
import BPFRuntime
import BPFSegment

/// The one way handlers get into a segment: native (AOT) code is admitted only if this build
/// compiles exactly that for the program's bytecode (`AOTImageCheck`), checked against the
/// maps the segment will hold, then the change is applied all or nothing. Import, load,
/// restore and the validation of documents for the history all come through here.
/// A restore replays a recorded state, so the program attachments that dangled in it may
/// dangle again (see `Segment.apply`).
enum TrustedApply {
    static func apply(_ records: [HandlerRecord], removing: [Int] = [], replaceExisting: Bool = false,
                      allowingDanglingAttachments: Bool = false, in transaction: SegmentTransaction) throws -> UInt64 {
        try AOTImageCheck.verify(records, maps: records + transaction.records(includeContents: false))
        return try transaction.apply(records, removing: removing, replaceExisting: replaceExisting,
                                     allowingDanglingAttachments: allowingDanglingAttachments)
    }
}

extension RuntimeState {
    /// Adds a document's handlers, creating the segment if needed; all or nothing. Returns
    /// what was applied and the segment's generation after it, and records the state it
    /// leaves (see `change`). `allowingDanglingAttachments` admits programs attached to fds
    /// that hold nothing, as bpftime's import does (`danglingAttachments` lists them), and
    /// drops prog_array entries that name no program (`droppedProgramSlots`); without it
    /// either is refused.
    @discardableResult
    public func importRecords(_ records: [HandlerRecord], allowingDanglingAttachments: Bool = false, recording: Recording? = nil,
                              message: String? = nil) throws -> Recorded<AppliedChange> {
        try change(creating: true, recording: recording, message: message) { tx in
            guard allowingDanglingAttachments else {
                let generation = try TrustedApply.apply(records, in: tx)
                return AppliedChange(segmentName: tx.name, generation: generation, added: records, removed: [])
            }
            let current = try tx.records(includeContents: false)
            let stale = StaleProgramSlots.find(in: records, current: current)
            let applied = StaleProgramSlots.drop(stale, from: records)
            let generation = try TrustedApply.apply(applied, allowingDanglingAttachments: true, in: tx)
            var change = AppliedChange(segmentName: tx.name, generation: generation, added: applied, removed: [])
            change.droppedProgramSlots = stale
            let present = Set(current.map(\.fd) + records.map(\.fd))
            for record in records {
                guard case .program(let program) = record.handler else { continue }
                let dangling = program.attachments.map(\.targetFD).filter { !present.contains($0) }
                if !dangling.isEmpty { change.danglingAttachments[record.fd] = dangling }
            }
            return change
        }
    }

    /// Adds one handler at its fd, creating the segment if needed (`allowingDanglingAttachments`
    /// as for `importRecords`).
    @discardableResult
    public func load(_ record: HandlerRecord, allowingDanglingAttachments: Bool = false, recording: Recording? = nil,
                     message: String? = nil) throws -> Recorded<AppliedChange> {
        try importRecords([record], allowingDanglingAttachments: allowingDanglingAttachments, recording: recording, message: message)
    }

    /// Removes the handler at `fd` (refused while another handler refers to it).
    @discardableResult
    public func unload(_ fd: Int, recording: Recording? = nil, message: String? = nil) throws -> Recorded<AppliedChange> {
        try change(recording: recording, message: message) { tx in
            let generation = try tx.apply([], removing: [fd])
            return AppliedChange(segmentName: tx.name, generation: generation, added: [], removed: [fd])
        }
    }

    /// Checks a document exactly as `importRecords` into a new segment of this configuration
    /// would (fields, references, map data against the maps' sizes and kinds, AOT code),
    /// by applying it to a private scratch segment (`Segment.createPrivate`: never named in /dev/shm).
    public func validateDocument(_ records: [HandlerRecord]) throws {
        let scratch = try Segment.createPrivate(configuration)
        try scratch.transaction { tx in _ = try TrustedApply.apply(records, in: tx) }
    }
}

/// Handlers a use case put into the segment (or removed), and the generation after.
public struct AppliedChange: Equatable, Sendable {
    public var segmentName: String
    public var generation: UInt64
    public var added: [HandlerRecord]
    public var removed: [Int]
    /// Programs added with `attach_fds` naming fds that hold nothing: program fd to those fds.
    public var danglingAttachments: [Int: [Int]] = [:]
    /// prog_array entries left out because they named no program.
    public var droppedProgramSlots: [StaleProgramSlot] = []
}

import BPFLogging
import BPFModel
import BPFSegment
import BPFSnapshots

/// What `RuntimeState.restore` is asked to do.
public struct RestoreRequest: Sendable {
    /// The snapshot to restore.
    public var snapshot: Int64
    /// Only these fds (nil: the whole table).
    public var onlyFDs: Set<Int>?
    /// Also restore what the chosen handlers refer to.
    public var withDependencies: Bool
    /// Plan only.
    public var dryRun: Bool
    /// Create the segment when it does not exist (else that is an error).
    public var createSegment: Bool
    /// A selective restore may leave programs attached to fds that hold nothing, as `import`
    /// may (see `RestorePlanner`).
    public var allowingDanglingAttachments: Bool

    public init(snapshot: Int64, onlyFDs: Set<Int>? = nil, withDependencies: Bool = false, dryRun: Bool = false,
                createSegment: Bool = false, allowingDanglingAttachments: Bool = false) {
        self.snapshot = snapshot
        self.onlyFDs = onlyFDs
        self.withDependencies = withDependencies
        self.dryRun = dryRun
        self.createSegment = createSegment
        self.allowingDanglingAttachments = allowingDanglingAttachments
    }
}

/// What a restore did (or, for a dry run or an empty plan, would do).
public struct RestoreOutcome: Sendable {
    public var plan: RestorePlan
    /// The state read just before the restore (saved as the undo snapshot when one was taken).
    public var before: ConsistentState
    /// The snapshot holding `before`; nil when nothing was applied.
    public var undoSnapshot: Int64?
    /// The segment's generation after the restore.
    public var generation: UInt64
    /// What became of recording the restored state (nil: not recorded, or nothing applied).
    public var record: RecordResult?
    /// prog_array entries of the snapshot that named no program once restored (recorded
    /// before `unload` emptied such slots): left out, as the kernel empties them.
    public var droppedProgramSlots: [StaleProgramSlot] = []
}

/// Points inside a restore where tests stop a child process and kill it.
enum RestoreStep: Sendable {
    /// The undo snapshot and restore record are written, not committed; the segment untouched.
    case undoWritten
    /// The segment is restored; the history transaction not yet committed.
    case applied
}

nonisolated(unsafe) var restoreStepHook: ((RestoreStep) -> Void)? = nil

extension RuntimeState {
    /// Brings the segment back to a snapshot, as one critical section: under one hold of the
    /// segment lock it reads the live state, plans against it (fds that `diff` reports as
    /// different), writes that state as the undo snapshot with a restore record inside an open
    /// history transaction, applies the plan (maps of unchanged definition in place), and only
    /// then commits. Nothing can change the segment in between, so the undo snapshot holds
    /// exactly what the restore replaced. A failed apply rolls the transaction back (no
    /// snapshot); a commit that fails after the apply puts the segment back as it was.
    /// With `recording`, the restored state is read in the same hold of the lock and recorded
    /// like any change, naming the restored and the undo snapshot.
    public func restore(_ request: RestoreRequest, store: any SnapshotHistory, recording: Recording? = nil) throws -> RestoreOutcome {
        var (outcome, after) = try changeAndRead(creating: request.createSegment, reading: recording != nil && !request.dryRun) { tx in
            try restore(request, store: store, in: tx)
        }
        if var recording, let after, let undo = outcome.undoSnapshot {
            recording.provenance.restoredSnapshot = request.snapshot
            recording.provenance.undoSnapshot = undo
            outcome.record = record(after, recording: recording, message: "restore of snapshot \(request.snapshot)")
        }
        return outcome
    }

    private func restore(_ request: RestoreRequest, store: any SnapshotHistory, in tx: SegmentTransaction) throws -> RestoreOutcome {
        WorkProgress.current?.begin("reading the segment", total: 0)
        let before = try ConsistentState(tx, includeContents: true)
        var (_, plan) = try store.restorePlan(request.snapshot, live: before.records, onlyFDs: request.onlyFDs,
                                              withDependencies: request.withDependencies,
                                              allowingDanglingAttachments: request.allowingDanglingAttachments)
        let stale = StaleProgramSlots.find(in: plan.create + plan.replace, removing: plan.remove, current: before.records)
        plan.create = StaleProgramSlots.drop(stale, from: plan.create)
        plan.replace = StaleProgramSlots.drop(stale, from: plan.replace)
        var outcome = RestoreOutcome(plan: plan, before: before, undoSnapshot: nil, generation: before.generation, record: nil,
                                     droppedProgramSlots: stale)
        guard !request.dryRun, !plan.isEmpty else { return outcome }

        let changed = (plan.create + plan.replace).map(\.fd) + plan.remove
        let entry = RestoreEntry(snapshot: request.snapshot, fds: changed.sorted(), selection: request.onlyFDs.map { $0.sorted() })
        var applied = false
        do {
            outcome.undoSnapshot = try store.save(
                before.records, meta: before.meta(message: "before restore of snapshot \(request.snapshot)"), restoring: entry
            ) { _ in
                restoreStepHook?(.undoWritten)
                WorkProgress.current?.begin("applying", total: 0)
                outcome.generation = try TrustedApply.apply(plan.create + plan.replace, removing: plan.remove,
                                                            replaceExisting: true, allowingDanglingAttachments: true, in: tx)
                applied = true
                restoreStepHook?(.applied)
            }
        } catch where applied {
            // The history could not commit the undo: without it the restore cannot stand.
            let old = Set(plan.replace.map(\.fd) + plan.remove)
            let records = before.records.filter { old.contains($0.fd) }
            // A live prog_array may hold slots of programs unloaded before `unload` emptied them.
            let stale = StaleProgramSlots.find(in: records, removing: plan.create.map(\.fd), current: try tx.records(includeContents: false))
            try tx.apply(StaleProgramSlots.drop(stale, from: records), removing: plan.create.map(\.fd), replaceExisting: true,
                         allowingDanglingAttachments: true)
            throw error
        }
        BPFLog.logger("restore").info(
            "restored snapshot \(request.snapshot) into \(tx.name) at generation \(outcome.generation) (previous state saved as snapshot \(outcome.undoSnapshot ?? 0))")
        return outcome
    }
}

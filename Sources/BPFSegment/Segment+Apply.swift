import BPFModel

/// Adding, replacing and removing handlers, all or nothing.
extension Segment {
    /// Validates everything first (fd range, fd in use unless `replaceExisting`, references in
    /// the final table, map attributes and contents), then changes the segment under one lock:
    /// a map replaced by one of the same definition gets only its differing entries written,
    /// in place and through the undo journal (so a map larger than the free heap can be
    /// restored); other handlers are built in free heap space and switched into the table in
    /// `HandlerKind.applyOrder` order through an intent record. On any error the segment is
    /// exactly as before; a process killed midway leaves either the old state or (once the
    /// intent is published) the new one. With `ifTableGeneration`, refuses when the handler
    /// table changed since the caller read it at that `tableGeneration` (records derived from
    /// a read never overwrite a newer handler). `allowingDanglingAttachments` lets a program's
    /// `attach_fds` name fds that hold nothing, as bpftime's import does (the agent fires
    /// nothing for them until a perf event appears there); links are always checked.
    /// Returns the new generation.
    @discardableResult
    public func apply(_ records: [HandlerRecord], removing: [Int] = [], replaceExisting: Bool = false,
                      allowingDanglingAttachments: Bool = false, ifTableGeneration expected: UInt64? = nil) throws -> UInt64 {
        try transaction {
            try $0.apply(records, removing: removing, replaceExisting: replaceExisting,
                         allowingDanglingAttachments: allowingDanglingAttachments, ifTableGeneration: expected)
        }
    }

    /// `apply` for a caller that holds the lock.
    func applyLocked(_ records: [HandlerRecord], removing: [Int], replaceExisting: Bool,
                     allowingDanglingAttachments: Bool = false) throws -> UInt64 {
        for fd in removing + records.map(\.fd) { try checkRange(fd) }
        guard !records.isEmpty || !removing.isEmpty else { return header.generation }
        let (plans, lostPrograms) = try validate(records, removing: removing, replaceExisting: replaceExisting,
                                                 allowingDanglingAttachments: allowingDanglingAttachments)
        let touched = Set(removing + records.map(\.fd))
        var built: [(fd: Int, payload: Int)] = []
        var storages: [Int] = []
        do {
            for plan in plans {
                guard let (store, delta) = plan.inPlace else { continue }
                if let problem = store.apply(delta, plan.contents ?? MapContents(shapeOf: store.layout)) {
                    throw SegmentError.invalidMap(fd: plan.record.fd, detail: problem)
                }
                store.setFrozen(plan.frozen)
            }
            try clearProgramSlots(holding: lostPrograms) { !touched.contains($0) }
            crashPoint(.applyInPlace)
            for plan in plans where plan.inPlace == nil {
                var storage = 0
                if let layout = plan.layout {
                    storage = try buildMap(plan.record.fd, layout, plan.contents, frozen: plan.frozen)
                    storages.append(storage)
                }
                guard let payload = table.writeRecord(fd: plan.record.fd, plan.stored, storage: storage) else {
                    throw full(HandlerTable.recordHeaderBytes + HandlerCodec.encode(plan.stored).count)
                }
                built.append((plan.record.fd, payload))
            }
            crashPoint(.applyBuilt)
            let changes = removing.map { (fd: $0, payload: 0) } + built
            if changes.isEmpty {
                journal.commit()
                header.bumpGeneration()
            } else {
                guard let intent = writeIntent(changes) else { throw full(8 + changes.count * 16) }
                commit(changes, intent: intent)
            }
        } catch {
            journal.rollback()
            for payload in built.map(\.payload) + storages { allocator.free(payload) }
            throw error
        }
        return header.generation
    }

    struct Plan {
        var record: HandlerRecord
        /// The handler as stored: map contents live in the storage, not the record.
        var stored: Handler
        var layout: MapLayout?
        var contents: MapContents?
        /// The map's frozen word, which lives in its storage like `contents`.
        var frozen = false
        /// A map replaced by one of the same definition: its storage and the entries to write.
        var inPlace: (store: MapStore, delta: MapDelta)?
    }

    /// The plans in apply order, and the programs the apply takes away (see `programsLost`).
    private func validate(_ records: [HandlerRecord], removing: [Int], replaceExisting: Bool,
                          allowingDanglingAttachments: Bool) throws -> (plans: [Plan], lostPrograms: Set<Int>) {
        var seen = Set<Int>()
        for fd in removing {
            guard seen.insert(fd).inserted else { throw SegmentError.duplicateFD(fd: fd) }
            guard table.slot(fd) != 0 else { throw SegmentError.noHandler(fd: fd) }
        }
        let removed = seen
        seen = []
        for record in records {
            guard seen.insert(record.fd).inserted else { throw SegmentError.duplicateFD(fd: record.fd) }
            if !replaceExisting, !removed.contains(record.fd), table.slot(record.fd) != 0 {
                let kind = (try? table.record(record.fd))?.kind.rawValue ?? "handler"
                throw SegmentError.fdInUse(fd: record.fd, kind: kind)
            }
        }
        let added = seen
        func exists(_ fd: Int) -> Bool {
            added.contains(fd) || (fd >= 0 && fd < header.maxHandlers && !removed.contains(fd) && table.slot(fd) != 0)
        }
        for record in records {
            try checkReferences(record.fd, record.handler, allowingDanglingAttachments: allowingDanglingAttachments, exists)
        }
        let addedKinds = Dictionary(records.map { ($0.fd, $0.handler.kind) }, uniquingKeysWith: { first, _ in first })
        try checkProgramSlots(records, added: addedKinds, removed: removed)
        if !removed.isEmpty {
            // Only references to what goes away: an attachment that dangled before stays as it was
            // (and one made to dangle now is refused unless attachments may dangle).
            for fd in table.occupied() where !removed.contains(fd) && !added.contains(fd) {
                if let handler = try decodeHandler(fd, includeContents: false) {
                    try checkReferences(fd, handler, allowingDanglingAttachments: allowingDanglingAttachments) { !removed.contains($0) }
                }
            }
        }
        var plans = try records.map(plan)
        plans.sort { ($0.record.handler.kind.applyOrder, $0.record.fd) < ($1.record.handler.kind.applyOrder, $1.record.fd) }
        let lostPrograms = programsLost(added: addedKinds, removed: removed)
        // Emptying the slots of lost programs goes through the undo journal first: it must fit
        // whole, or a process killed midway could leave slots emptied of a program that stays.
        let slotBytes = try clearProgramSlots(holding: lostPrograms, untouched: { !removed.contains($0) && !added.contains($0) },
                                              dryRun: true)
        guard slotBytes <= journal.capacity else {
            throw SegmentError.journalTooSmall(what: "emptying the prog_array slots that hold fds \(lostPrograms.sorted())",
                                               neededBytes: slotBytes, capacity: journal.capacity)
        }
        if replaceExisting { try planInPlace(&plans, removed: removed, reserved: slotBytes) }
        let needed = plans.filter { $0.inPlace == nil }.reduce(0) { total, plan in
            let recordBytes = HandlerTable.recordHeaderBytes + HandlerCodec.encode(plan.stored).count
            return total + (Allocator.blockSize(forPayload: recordBytes) ?? 0) + (plan.layout.flatMap { Allocator.blockSize(forPayload: $0.totalBytes) } ?? 0)
        } + (Allocator.blockSize(forPayload: 8 + (records.count + removing.count) * 16) ?? 0)
        if needed > allocator.freeBytes { throw SegmentError.full(name: name, neededBytes: needed, freeBytes: allocator.freeBytes) }
        return (plans, lostPrograms)
    }

    /// Marks maps whose definition stays as they are for an in-place entry delta, as long as
    /// every delta together (and the `reserved` bytes) surely fits the undo journal; bigger ones
    /// are built anew.
    private func planInPlace(_ plans: inout [Plan], removed: Set<Int>, reserved: Int) throws {
        var journalBytes = reserved
        for i in plans.indices where plans[i].layout != nil && !removed.contains(plans[i].record.fd) {
            let fd = plans[i].record.fd
            guard let (current, record) = try storedHandler(fd), current == plans[i].stored,
                  case .map(let map) = current, let store = try mapStore(fd: fd, record: record, attributes: map.attributes),
                  let delta = store.delta(to: plans[i].contents ?? MapContents(shapeOf: store.layout)) else { continue }
            let bytes = delta.changeCount * store.journalBytesPerChange + 24 // and the frozen word
            guard journalBytes + bytes <= journal.capacity else { continue }
            journalBytes += bytes
            plans[i].inPlace = (store, delta)
        }
    }

    private func checkReferences(_ fd: Int, _ handler: Handler, allowingDanglingAttachments: Bool, _ exists: (Int) -> Bool) throws {
        switch handler {
        case .program(let p):
            for a in p.attachments where !allowingDanglingAttachments && !exists(a.targetFD) {
                throw SegmentError.danglingReference(fd: fd, field: "attach_fds", target: a.targetFD)
            }
        case .link(let l):
            if !exists(l.programFD) { throw SegmentError.danglingReference(fd: fd, field: "prog_fd", target: l.programFD) }
            if !exists(l.targetFD) { throw SegmentError.danglingReference(fd: fd, field: "target_fd", target: l.targetFD) }
        case .map, .perfEvent, .epoll, .memfd:
            break
        }
    }

    private func plan(_ record: HandlerRecord) throws -> Plan {
        guard case .map(var map) = record.handler else { return Plan(record: record, stored: record.handler) }
        let (contents, frozen) = (map.contents, map.frozen)
        map.contents = nil
        map.frozen = false
        var plan = Plan(record: record, stored: .map(map), contents: contents, frozen: frozen)
        guard let kind = map.attributes.kind else {
            if let contents, !contents.isEmpty { throw SegmentError.unsupportedMapType(fd: record.fd, mapType: map.attributes.mapType) }
            return plan
        }
        switch MapLayout.plan(kind, map.attributes, cpuCount: header.cpuCount, buckets: header.hashBuckets) {
        case .failure(let problem):
            throw SegmentError.invalidMap(fd: record.fd, detail: problem.text)
        case .success(let layout):
            if layout.entryValueBytes > journal.maxEntryBytes {
                throw SegmentError.invalidMap(fd: record.fd, detail: "values of \(layout.entryValueBytes) bytes (all CPUs) exceed this segment's limit of \(journal.maxEntryBytes)")
            }
            if let contents, let problem = MapStore.contentsProblem(contents, layout) {
                throw SegmentError.invalidMap(fd: record.fd, detail: problem)
            }
            plan.layout = layout
        }
        return plan
    }

    private func buildMap(_ fd: Int, _ planned: MapLayout, _ contents: MapContents?, frozen: Bool) throws -> Int {
        guard let storage = allocator.allocate(planned.totalBytes) else { throw full(planned.totalBytes) }
        var layout = planned
        layout.storage = storage
        layout.serial = header.nextMapSerial()
        layout.format(base)
        let store = MapStore(base: base, layout: layout, journal: journal)
        store.journaling = false
        if let contents, let problem = store.fill(contents) {
            allocator.free(storage)
            throw SegmentError.invalidMap(fd: fd, detail: problem)
        }
        store.setFrozen(frozen)
        return storage
    }

    /// The heap has `freeBytes` left, but not in one piece of `bytes`.
    private func full(_ bytes: Int) -> SegmentError {
        .full(name: name, neededBytes: Allocator.blockSize(forPayload: bytes) ?? bytes, freeBytes: allocator.freeBytes)
    }

    /// Publishes the intent, switches the slots, then frees what the old slots held.
    private func commit(_ changes: [(fd: Int, payload: Int)], intent: Int) {
        let old = Set(changes.map { table.slot($0.fd) }).subtracting([0]).sorted()
        orderStores()
        header.intent = intent
        orderStores()
        // From here recovery rolls the change forward: the in-place map writes belong to it.
        journal.commit()
        for change in changes {
            table.setSlot(change.fd, change.payload)
            crashPoint(.applySwitching)
        }
        header.handlerCount = table.occupied().count
        orderStores()
        header.intent = 0
        orderStores()
        for payload in old {
            let storage = base.offset(payload + 8)
            if storage != 0, allocator.capacity(ofPayload: storage) != nil {
                base.set32(storage, 0) // open SegmentMaps see their map is gone
                allocator.free(storage)
            }
            allocator.free(payload)
        }
        allocator.free(intent)
        header.bumpTableGeneration()
    }
}

import BPFModel

/// prog_array slots hold program fds only, in every state an apply leaves: data given for a
/// prog_array must name programs of the resulting table, and a program that goes away (or is
/// replaced by something else) is taken out of the slots that held it, as the kernel empties a
/// prog_array slot whose program is released. So no snapshot or export holds a stale fd.
extension Segment {
    /// Whether `fd` holds a program after an apply that adds `added` and frees `removed`.
    func holdsProgramAfter(_ fd: Int, added: [Int: HandlerKind], removed: Set<Int>) -> Bool {
        if let kind = added[fd] { return kind == .program }
        guard fd >= 0, fd < header.maxHandlers, !removed.contains(fd) else { return false }
        return (try? table.record(fd))??.kind == .program
    }

    /// Refuses a prog_array's data that names anything but a program of the resulting table.
    func checkProgramSlots(_ records: [HandlerRecord], added: [Int: HandlerKind], removed: Set<Int>) throws {
        for record in records {
            guard case .map(let map) = record.handler, map.attributes.kind == .progArray, let contents = map.contents else { continue }
            for slot in contents.programSlots() where !holdsProgramAfter(Int(slot.program), added: added, removed: removed) {
                throw SegmentError.notAProgram(fd: record.fd, index: slot.index, target: Int(slot.program))
            }
        }
    }

    /// The programs an apply takes away: fds that hold a program now and will not after.
    func programsLost(added: [Int: HandlerKind], removed: Set<Int>) -> Set<Int> {
        Set(removed.union(added.keys).filter { fd in
            (try? table.record(fd))??.kind == .program && !holdsProgramAfter(fd, added: added, removed: removed)
        })
    }

    /// Empties, through the undo journal, the slots of prog_arrays that stay in the table
    /// (`untouched` excludes those the apply replaces or removes) that hold a lost program.
    /// With `dryRun`, changes nothing. Returns the undo journal bytes the emptying takes.
    @discardableResult
    func clearProgramSlots(holding lost: Set<Int>, untouched: (Int) -> Bool, dryRun: Bool = false) throws -> Int {
        guard !lost.isEmpty else { return 0 }
        var journalBytes = 0
        for fd in table.occupied() where untouched(fd) {
            guard let (handler, record) = try storedHandler(fd), case .map(let map) = handler, map.attributes.kind == .progArray,
                  let store = try mapStore(fd: fd, record: record, attributes: map.attributes) else { continue }
            journalBytes += store.clearProgramSlots(holding: lost, dryRun: dryRun) * Self.journalBytesPerSlot
        }
        return journalBytes
    }

    /// One emptied slot's undo journal entry: offset and length, and the 4-byte fd padded to 8.
    static let journalBytesPerSlot = 24
}

import BPFModel

/// Values programs write in place, through a pointer a lookup handed them, move no generation.
/// Each map carries a mark, raised when such a pointer is handed out (`SegmentMap.lookup`), so
/// that a recorder which saves only what a change wrote over an earlier snapshot knows which
/// maps it must read whole.
extension SegmentTransaction {
    /// The fds of the maps programs may have written in place since their mark was last taken
    /// (global data maps always), ascending.
    public func programWrittenMaps() throws -> [Int] {
        try segment.table.occupied().filter { fd in
            try segment.programWriteMark(fd).map { $0.level != .clean } ?? false
        }
    }

    /// Takes the marks of the maps at `fds`, before the caller reads them whole. The generation
    /// moves first, so that no snapshot read before (which may lack their in-place writes)
    /// passes for the state after, even if the caller never records what it reads.
    public func takeProgramWriteMarks(_ fds: [Int]) throws {
        guard !fds.isEmpty else { return }
        segment.header.bumpGeneration()
        for fd in fds { try segment.programWriteMark(fd)?.take() }
    }

    /// The maps at `fds`, read whole after taking their marks (`takeProgramWriteMarks`).
    public func takeProgramWrites(_ fds: [Int]) throws -> [HandlerRecord] {
        try takeProgramWriteMarks(fds)
        return try fds.compactMap { fd in try segment.decodeHandler(fd, includeContents: true).map { HandlerRecord(fd: fd, handler: $0) } }
    }
}

extension Segment {
    /// The mark of the map at `fd`, checked only as far as reading it needs (the record's header
    /// and the storage block's, not the whole handler); nil for other handlers and maps without data.
    fileprivate func programWriteMark(_ fd: Int) throws -> ProgramWriteMark? {
        let record: HandlerTable.Record?
        do { record = try table.record(fd) } catch { throw corrupt("fd \(fd): \(error.text)") }
        guard let record, record.kind == .map, record.storage != 0 else { return nil }
        guard let capacity = allocator.capacity(ofPayload: record.storage), capacity >= MapLayout.dataAt,
              base.u32(record.storage) == MapLayout.magic else {
            throw corrupt("map at fd \(fd): storage offset \(record.storage) is not a map's storage block")
        }
        return ProgramWriteMark(base + record.storage + MapLayout.programWrittenAt)
    }
}

import BPFModel

/// One hold of the segment lock, for a caller that must read, decide and write with nothing
/// changing in between (a restore plans against the state it saves as its undo, then applies).
/// Valid only inside the `Segment.transaction` closure that received it; other processes'
/// mutations and map updates wait until that closure returns.
public struct SegmentTransaction {
    let segment: Segment

    /// The segment's name.
    public var name: String { segment.name }
    /// The generation now; nothing moves it until the transaction ends, except `apply`.
    public var generation: UInt64 { segment.header.generation }
    /// The handler table's generation now.
    public var tableGeneration: UInt64 { segment.header.tableGeneration }

    /// Every handler, sorted by fd, as `Segment.records` reads them.
    public func records(includeContents: Bool) throws -> [HandlerRecord] {
        try segment.recordsLocked(includeContents: includeContents)
    }

    /// `Segment.apply`, inside this hold of the lock: all or nothing. Returns the new generation.
    /// With `ifTableGeneration`, refuses when the handler table changed since the caller read
    /// it at that generation (outside this transaction).
    @discardableResult
    public func apply(_ records: [HandlerRecord], removing: [Int] = [], replaceExisting: Bool = false,
                      allowingDanglingAttachments: Bool = false, ifTableGeneration expected: UInt64? = nil) throws -> UInt64 {
        if let expected, expected != tableGeneration { throw SegmentError.tableChanged(name: name) }
        return try segment.applyLocked(records, removing: removing, replaceExisting: replaceExisting,
                                       allowingDanglingAttachments: allowingDanglingAttachments)
    }

    /// The map at `fd`, operated on inside this hold of the lock: its updates are part of the
    /// transaction. Use it only inside the transaction's closure.
    public func map(at fd: Int) throws -> SegmentMap {
        try segment.mapLocked(at: fd, lockHeld: true)
    }
}

extension Segment {
    /// Runs `body` under one hold of the segment lock (recovering first if the last holder
    /// died). Keep it short: every process's map updates wait for it.
    public func transaction<T>(_ body: (SegmentTransaction) throws -> T) throws -> T {
        try locked { try body(SegmentTransaction(segment: self)) }
    }
}

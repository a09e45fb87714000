import Synchronization

/// The undo log for map writes: before a mutation overwrites bytes that are part of the
/// committed state, it appends their old value here. A process that dies mid-mutation leaves
/// a non-empty log, and the next locker restores the old bytes in reverse order; restoring is
/// idempotent, so dying during recovery is covered too. Writes into storage that the committed
/// state does not reach (a free hash entry, an unused queue slot) need no entry.
///
/// Entry: target offset (u64), length (u64), the old bytes padded to 8.
struct Journal {
    let base: UnsafeMutableRawPointer
    let start: Int
    let capacity: Int
    /// Only the heap may be restored: a corrupt log must not write over the header or table.
    let heapStart: Int
    let heapEnd: Int

    init(_ header: Header) {
        base = header.base
        start = header.journalOffset
        capacity = header.journalCapacity
        heapStart = header.heapOffset
        heapEnd = header.totalSize
    }

    static func capacity(forSegmentSize size: Int) -> Int { min(max(size / 32, 64 << 10), 1 << 20) }
    /// The largest single value (all CPUs) a map may have, so that any one update fits the log.
    var maxEntryBytes: Int { capacity / 4 }

    private var length: UnsafeMutablePointer<Atomic<UInt64>> { base.atomic64(Header.journalLengthAt) }
    var isEmpty: Bool { length.pointee.load(ordering: .acquiring) == 0 }

    /// Records the current `count` bytes at `target`. The bytes go in before the length that
    /// publishes them, so recovery never sees a half-written entry.
    @inline(__always) func save(_ target: Int, _ count: Int) {
        let used = Int(truncatingIfNeeded: length.pointee.load(ordering: .relaxed))
        let entry = start + used
        let size = 16 + roundUp(count, 8)
        // Callers bound their entries (maxEntryBytes); a full log here is a programming error
        // in the segment module, so degrade to an unjournaled write rather than trap.
        guard used >= 0, used <= capacity - size else { return }
        base.set64(entry, UInt64(target))
        base.set64(entry + 8, UInt64(count))
        copyBytes(base + entry + 16, base + target, count)
        length.pointee.store(UInt64(used + size), ordering: .releasing)
        orderStores() // the write this entry undoes must not move above it
    }

    @inline(__always) func save64(_ target: Int) { save(target, 8) }
    @inline(__always) func save32(_ target: Int) { save(target, 4) }

    /// The mutation is complete: forget the old bytes.
    @inline(__always) func commit() { length.pointee.store(0, ordering: .releasing) }

    /// Restores every logged range, newest first. Returns how many entries were undone.
    @discardableResult
    func rollback() -> Int {
        let used = Int(truncatingIfNeeded: length.pointee.load(ordering: .acquiring))
        guard used > 0 else { return 0 }
        var entries: [(target: Int, count: Int, at: Int)] = []
        var at = 0
        while at + 16 <= min(used, capacity) {
            let target = base.offset(start + at), count = base.offset(start + at + 8)
            guard count >= 0, count <= capacity, at + 16 + count <= used,
                  target >= heapStart, target <= heapEnd - count else { break }
            entries.append((target, count, start + at + 16))
            at += 16 + roundUp(count, 8)
        }
        for entry in entries.reversed() {
            (base + entry.target).copyMemory(from: base + entry.at, byteCount: entry.count)
        }
        orderStores()
        commit()
        return entries.count
    }

    /// The log must be empty whenever the lock is free.
    func problems() -> [String] {
        let used = length.pointee.load(ordering: .acquiring)
        return used == 0 ? [] : ["undo journal holds \(used) bytes outside a mutation"]
    }
}

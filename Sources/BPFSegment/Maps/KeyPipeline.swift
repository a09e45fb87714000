import CPrefetch

/// Many keys at once. A hash operation costs its cache misses, the bucket and then the entry it
/// names, and one key's misses wait on each other; so while key i is worked on, key i+16's
/// bucket line and key i+8's first entry (its bucket line has arrived by then) are already on
/// their way, and the misses of a batch overlap. Lookups and updates alike: their work on key i
/// is unchanged. The distances cover a miss (130-140 ns here) with a few keys' work each.
extension MapStore {
    static let bucketLead = 24, entryLead = 16, secondEntryLead = 8

    /// Calls `body` for each key of `range` in order, until it returns false (then returns
    /// false). Keys up to `end` are prefetched, so a batch worked in chunks keeps its pipeline
    /// full across them; the first chunk starts its buckets' loads before its first key.
    @inline(__always) func forEachKey(_ range: Range<Int>, prefetchingBefore end: Int,
                                      _ key: (Int) -> UnsafeRawPointer, _ body: (Int) -> Bool) -> Bool {
        guard layout.bucketCount > 0 else {
            for i in range where !body(i) { return false }
            return true
        }
        if range.lowerBound == 0 {
            for i in 0..<min(Self.bucketLead, end) { bpf_prefetch(buckets + bucketIndex(key(i)) &* 4) }
        }
        for i in range {
            if i &+ Self.bucketLead < end { bpf_prefetch(buckets + bucketIndex(key(i &+ Self.bucketLead)) &* 4) }
            if i &+ Self.entryLead < end { prefetchEntry(key(i &+ Self.entryLead), second: false) }
            if i &+ Self.secondEntryLead < end { prefetchEntry(key(i &+ Self.secondEntryLead), second: true) }
            guard body(i) else { return false }
        }
        return true
    }

    /// The first entry of the key's chain, or the second when the first holds another key (a
    /// full table's chains are 1.5 entries long on average for keys that are present). Indexes
    /// may be torn or corrupt: only an index inside the pool is followed.
    @inline(__always) private func prefetchEntry(_ key: UnsafeRawPointer, second: Bool) {
        var index = buckets.u32(bucketIndex(key) &* 4)
        guard index != 0, Int(index) <= maxEntries else { return }
        if second {
            let first = entry(index)
            guard !keysEqual(first + keyOffset, key) else { return }
            index = first.u32(Self.chainAt)
            guard index != 0, Int(index) <= maxEntries else { return }
        }
        bpf_prefetch(entry(index) + keyOffset)
    }
}

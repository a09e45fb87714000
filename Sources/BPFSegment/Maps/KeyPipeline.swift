import CHints

/// Keys packed `stride` bytes apart, visited in their order or in the order of `order`'s indices.
struct KeySequence {
    let base: UnsafeRawPointer
    let stride: Int
    let count: Int
    var order: UnsafeBufferPointer<Int>? = nil

    @inline(__always) subscript(i: Int) -> UnsafeRawPointer { base + (order.map { $0[i] } ?? i) &* stride }
}

/// Many keys at once. A hash operation costs its cache misses, the bucket and then the entry it
/// names, and one key's misses wait on each other; so while key i is worked on, key i+24's
/// bucket line, key i+16's first entry (its bucket line has arrived by then) and key i+8's second
/// entry (when the first holds another key: for a fifth of the present keys of a full map, a
/// third with the kernel's bucket count) are already on their way, and the misses of a batch
/// overlap. Lookups and updates alike: their work on key i is unchanged. Plain loops call these,
/// not closures, so that everything inlines into the loop.
extension MapStore {
    static let bucketLead = 24, entryLead = 16, secondEntryLead = 8

    /// Before the first key: the buckets of the keys no `prefetch(after:)` will reach.
    @inline(__always) func startPrefetching(_ keys: KeySequence) {
        guard layout.bucketCount > 0 else { return }
        for i in 0..<min(Self.bucketLead, keys.count) { bpf_prefetch(buckets + bucketIndex(keys[i]) &* 4) }
    }

    /// Before working on key i.
    @inline(__always) func prefetch(after i: Int, in keys: KeySequence) {
        guard layout.bucketCount > 0 else { return }
        if i &+ Self.bucketLead < keys.count { bpf_prefetch(buckets + bucketIndex(keys[i &+ Self.bucketLead]) &* 4) }
        if i &+ Self.entryLead < keys.count { prefetchEntry(keys[i &+ Self.entryLead], second: false) }
        if i &+ Self.secondEntryLead < keys.count { prefetchEntry(keys[i &+ Self.secondEntryLead], second: true) }
    }

    /// Indexes may be torn or corrupt: only an index inside the pool is followed.
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

import Glibc

/// Many keys per call, for embedders that read or write a map in bulk (as the kernel's
/// BPF_MAP_UPDATE_BATCH): the misses of successive keys overlap (`MapStore.prefetch(after:in:)`),
/// which one call per key cannot do. Keys are packed `keySize` bytes each, values `userValueSize`
/// bytes each (every CPU's value, packed, for per-CPU maps), as `lookup(key:)` and
/// `update(key:value:)` take them. Work goes in chunks of `batchChunk` keys, each under one
/// hold of the lock (or one check of its sequence), so that a long batch keeps no program
/// waiting for more than a few microseconds.
extension SegmentMap {
    public static let batchChunk = 256

    /// Copies the value of each key that is present into its place in `values` and sets its
    /// flag in `found`. Returns how many were found, or a negative errno: -EINVAL when the
    /// buffers do not hold whole keys and values for every key, -ESTALE once the map is gone,
    /// -EOPNOTSUPP for maps without keys.
    public func lookup(keys: UnsafeRawBufferPointer, values: UnsafeMutableRawBufferPointer,
                       found: UnsafeMutableBufferPointer<Bool>) -> Int {
        guard kind?.isKeyed == true else { return Int(-EOPNOTSUPP) }
        guard let list = keyList(keys), holds(values.count, list.count), found.count >= list.count else { return Int(-EINVAL) }
        guard list.count > 0 else { return 0 }
        let valueBase = values.baseAddress!, flags = found.baseAddress!, valueBytes = userValueSize
        var hits = 0
        for start in stride(from: 0, to: list.count, by: Self.batchChunk) {
            let chunk = { (store: MapStore) -> Int in
                if start == 0 { store.startPrefetching(list) }
                var chunkHits = 0
                for at in start..<min(start + Self.batchChunk, list.count) {
                    store.prefetch(after: at, in: list)
                    let slot = store.lookup(list[at], cpu: 0)
                    if let slot {
                        store.readValue(slot, into: valueBase + at &* valueBytes)
                        chunkHits &+= 1
                    }
                    flags[at] = slot != nil
                }
                return chunkHits
            }
            guard let chunkHits = withoutLock(chunk) ?? withLockedStore(chunk) else { return Int(-ESTALE) }
            hits += chunkHits
        }
        return hits
    }

    /// Writes value i to key i, in order, each entry as `update(key:value:flags:)` writes one:
    /// whole or not at all, even if this process dies. Stops at the first entry refused.
    /// Returns how many were written, and 0 or the refused entry's negative errno (-EINVAL
    /// also when the buffers do not hold whole keys and values for every key).
    public func update(keys: UnsafeRawBufferPointer, values: UnsafeRawBufferPointer, flags: UInt64 = 0) -> (written: Int, result: Int32) {
        guard let list = keyList(keys), holds(values.count, list.count) else { return (0, -EINVAL) }
        guard list.count > 0 else { return (0, 0) }
        let valueBase = values.baseAddress!, valueBytes = userValueSize
        var written = 0
        for start in stride(from: 0, to: list.count, by: Self.batchChunk) {
            var refusal: Int32 = 0
            // The chunk reports success when it wrote anything, so that the generation moves.
            let result = mutate(fromUserspace: true) { store in
                if start == 0 { store.startPrefetching(list) }
                let before = written
                for at in start..<min(start + Self.batchChunk, list.count) {
                    store.prefetch(after: at, in: list)
                    refusal = write(store, list[at], valueBase + at &* valueBytes, flags: flags, cpu: nil)
                    store.journal.commit()
                    guard refusal == 0 else { break }
                    written &+= 1
                }
                return written > before ? 0 : refusal
            }
            if refusal != 0 || result != 0 { return (written, refusal != 0 ? refusal : result) }
        }
        return (written, 0)
    }

    /// Whether `bytes` hold `count` values; buffer sizes come from the caller, so no overflow.
    private func holds(_ bytes: Int, _ count: Int) -> Bool {
        let (needed, overflow) = count.multipliedReportingOverflow(by: userValueSize)
        return !overflow && needed <= bytes
    }

    /// The keys in `keys`, or nil when it does not hold whole keys.
    private func keyList(_ keys: UnsafeRawBufferPointer) -> KeySequence? {
        guard keySize > 0, keys.count % keySize == 0 else { return nil }
        return KeySequence(base: keys.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, stride: keySize, count: keys.count / keySize)
    }
}

import BPFModel
import Glibc

/// hash, percpu_hash, lru_hash and lru_percpu_hash: buckets of 1-based entry indices chained
/// through a pool of max_entries entries preallocated at creation, so updates never touch the
/// allocator. Free entries come from a free list, then from the never-used tail of the pool.
///
/// Live entries carry a flag, so iteration (export, get_next_key) walks the pool in order:
/// sequential memory, and the order entries were added in when nothing was deleted.
///
/// LRU maps keep every entry on a recency list (head = newest). As the kernel does, a lookup
/// only sets a "referenced" bit; eviction gives referenced entries at the tail a second chance.
extension MapStore {
    static let chainAt = 0
    private static let flagsAt = 4, lruPrevAt = 8, lruNextAt = 12
    private static let referenced: UInt32 = 1, live: UInt32 = 2

    /// Indexes are 1-based and checked against max_entries by the caller: no overflow.
    @inline(__always) func entry(_ index: UInt32) -> UnsafeMutableRawPointer { entries + (Int(index) &- 1) &* entryStride }

    @inline(__always) func bucketIndex(_ key: UnsafeRawPointer) -> Int {
        Int(KeyHash.hash(key, keySize)) & bucketMask
    }

    @inline(__always) func keysEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> Bool {
        switch keySize {
        case 4: a.loadUnaligned(as: UInt32.self) == b.loadUnaligned(as: UInt32.self)
        case 8: a.loadUnaligned(as: UInt64.self) == b.loadUnaligned(as: UInt64.self)
        default: Self.bytesEqual(a, b, keySize)
        }
    }

    /// Out of line, so that the 4- and 8-byte paths keep their registers (no spills around a call).
    @inline(never) private static func bytesEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
        memcmp(a, b, count) == 0
    }

    /// The entry holding `key` and its predecessor in the chain (0 = the bucket itself).
    /// Chains longer than the pool mean corruption: the walk stops instead of looping.
    @inline(__always) func find(_ key: UnsafeRawPointer, bucket: Int) -> (index: UInt32, previous: UInt32)? {
        var index = buckets.u32(bucket &* 4), previous: UInt32 = 0, steps = 0
        while index != 0, Int(index) <= maxEntries, steps < maxEntries {
            let e = entry(index)
            if keysEqual(e + keyOffset, key) { return (index, previous) }
            previous = index
            index = e.u32(Self.chainAt)
            steps &+= 1
        }
        return nil
    }

    /// The value of `key` for `cpu` (a valid slot). Only LRU maps write here (the mark), so
    /// other kinds may call it without the lock.
    @inline(__always) func hashLookup(_ key: UnsafeRawPointer, cpu: Int) -> UnsafeMutableRawPointer? {
        guard let (index, _) = find(key, bucket: bucketIndex(key)) else { return nil }
        let e = entry(index)
        if isLRU, e.u32(Self.flagsAt) & Self.referenced == 0 { e.set32(Self.flagsAt, Self.live | Self.referenced) }
        return e + valueOffset + cpu &* layout.valueStride
    }

    func hashUpdate(_ key: UnsafeRawPointer, _ value: UnsafeRawPointer, flags: UInt64, cpu: Int?) -> Int32 {
        guard flags <= Self.exist else { return -EINVAL }
        let bucket = bucketIndex(key)
        if let (index, _) = find(key, bucket: bucket) {
            guard flags != Self.noExist else { return -EEXIST }
            let e = entry(index)
            save(e + valueOffset, layout.entryValueBytes)
            writeValue(e + valueOffset, value, cpu: cpu)
            if isLRU { e.set32(Self.flagsAt, Self.live | Self.referenced) }
            return 0
        }
        guard flags != Self.exist else { return -ENOENT }
        saveState()
        guard let index = takeFreeEntry() ?? (isLRU ? evict() : nil) else { return -E2BIG }
        // The entry is unreachable until the bucket store below (or saved when reused).
        let e = entry(index)
        copyBytes(e + keyOffset, key, keySize)
        if cpu != nil, layout.cpus > 1 {
            (e + valueOffset).initializeMemory(as: UInt8.self, repeating: 0, count: layout.entryValueBytes)
        }
        writeValue(e + valueOffset, value, cpu: cpu)
        e.set32(Self.chainAt, buckets.u32(bucket * 4))
        e.set32(Self.flagsAt, Self.live)
        if isLRU { lruPushFront(index) }
        orderStores()
        save(buckets + bucket * 4, 4)
        buckets.set32(bucket * 4, index)
        crashPoint(.hashEntryLinked)
        setState(MapLayout.countAt, count &+ 1)
        return 0
    }

    func hashDelete(_ key: UnsafeRawPointer) -> Int32 {
        let bucket = bucketIndex(key)
        guard let (index, previous) = find(key, bucket: bucket) else { return -ENOENT }
        saveState()
        remove(index, previous: previous, bucket: bucket)
        releaseEntry(index)
        return 0
    }

    /// Pool order; an absent (or nil) key starts from the first entry.
    func hashNextKey(after key: UnsafeRawPointer?, into out: UnsafeMutableRawPointer) -> Int32 {
        var start: UInt32 = 1
        if let key, let (index, _) = find(key, bucket: bucketIndex(key)) { start = index + 1 }
        for index in start..<max(start, usedEnd) where isLive(index) {
            out.copyMemory(from: entry(index) + keyOffset, byteCount: keySize)
            return 0
        }
        return -ENOENT
    }

    /// Every live entry in pool order: what contents() walks.
    func forEachEntry(_ body: (UInt32) -> Void) {
        for index in 1..<usedEnd where isLive(index) { body(index) }
    }

    /// One past the last entry ever handed out.
    private var usedEnd: UInt32 { UInt32(max(1, min(state(MapLayout.nextUnusedAt), maxEntries + 1))) }
    @inline(__always) func isLive(_ index: UInt32) -> Bool { entry(index).u32(Self.flagsAt) & Self.live != 0 }

    // MARK: Pool

    /// Caller has saved the state fields.
    private func takeFreeEntry() -> UInt32? {
        let head = state(MapLayout.headAt)
        if head != 0, head <= maxEntries {
            let index = UInt32(head)
            // Its free-list link is committed state until the state fields are restored.
            save(entry(index), keyOffset)
            setState(MapLayout.headAt, Int(entry(index).u32(Self.chainAt)))
            return index
        }
        let next = state(MapLayout.nextUnusedAt)
        guard next >= 1, next <= maxEntries else { return nil }
        setState(MapLayout.nextUnusedAt, next + 1)
        return UInt32(next)
    }

    /// Puts an unlinked entry on the free list. Caller has saved the state fields. The whole
    /// entry is saved: a later insert under the same journal (an in-place apply) may reuse it,
    /// and a rollback must bring its key and value back too.
    private func releaseEntry(_ index: UInt32) {
        let e = entry(index)
        save(e, entryStride)
        e.set32(Self.flagsAt, 0)
        e.set32(Self.chainAt, UInt32(truncatingIfNeeded: state(MapLayout.headAt)))
        setState(MapLayout.headAt, Int(index))
    }

    /// Unlinks an entry from its chain (and the LRU list). Caller has saved the state fields.
    private func remove(_ index: UInt32, previous: UInt32, bucket: Int) {
        let next = entry(index).u32(Self.chainAt)
        if previous == 0 {
            save(buckets + bucket * 4, 4)
            buckets.set32(bucket * 4, next)
        } else {
            save(entry(previous), 4)
            entry(previous).set32(Self.chainAt, next)
        }
        if isLRU { lruUnlink(index) }
        setState(MapLayout.countAt, count &- 1)
    }

    // MARK: LRU

    /// Frees the least recently used entry, passing over referenced ones once, and returns it.
    private func evict() -> UInt32? {
        var victim = UInt32(truncatingIfNeeded: state(MapLayout.lruTailAt)), chances = 0
        while victim != 0, Int(victim) <= maxEntries, chances < min(count, 32),
              entry(victim).u32(Self.flagsAt) & Self.referenced != 0 {
            lruUnlink(victim)
            save(entry(victim) + Self.flagsAt, 4)
            entry(victim).set32(Self.flagsAt, Self.live)
            lruPushFront(victim)
            victim = UInt32(truncatingIfNeeded: state(MapLayout.lruTailAt))
            chances += 1
        }
        guard victim != 0, Int(victim) <= maxEntries else { return nil }
        let key = entry(victim) + keyOffset
        let bucket = bucketIndex(key)
        guard let (index, previous) = find(key, bucket: bucket), index == victim else { return nil }
        remove(victim, previous: previous, bucket: bucket)
        // The caller overwrites the victim's key and value, which a rollback must bring back.
        save(entry(victim), entryStride)
        return victim
    }

    private func lruPushFront(_ index: UInt32) {
        let head = UInt32(truncatingIfNeeded: state(MapLayout.lruHeadAt))
        let e = entry(index)
        save(e + Self.lruPrevAt, 8)
        e.set32(Self.lruPrevAt, 0)
        e.set32(Self.lruNextAt, head)
        if head != 0, Int(head) <= maxEntries {
            save(entry(head) + Self.lruPrevAt, 4)
            entry(head).set32(Self.lruPrevAt, index)
        } else {
            setState(MapLayout.lruTailAt, Int(index))
        }
        setState(MapLayout.lruHeadAt, Int(index))
    }

    private func lruUnlink(_ index: UInt32) {
        let e = entry(index)
        let previous = e.u32(Self.lruPrevAt), next = e.u32(Self.lruNextAt)
        if previous != 0, Int(previous) <= maxEntries {
            save(entry(previous) + Self.lruNextAt, 4)
            entry(previous).set32(Self.lruNextAt, next)
        } else {
            setState(MapLayout.lruHeadAt, Int(next))
        }
        if next != 0, Int(next) <= maxEntries {
            save(entry(next) + Self.lruPrevAt, 4)
            entry(next).set32(Self.lruPrevAt, previous)
        } else {
            setState(MapLayout.lruTailAt, Int(previous))
        }
    }

    /// LRU list walk for check(): indices head to tail, or nil on a broken link.
    func lruOrder() -> [UInt32]? {
        var order: [UInt32] = [], index = UInt32(truncatingIfNeeded: state(MapLayout.lruHeadAt)), previous: UInt32 = 0
        while index != 0 {
            guard Int(index) <= maxEntries, order.count <= maxEntries, entry(index).u32(Self.lruPrevAt) == previous else { return nil }
            order.append(index)
            previous = index
            index = entry(index).u32(Self.lruNextAt)
        }
        return state(MapLayout.lruTailAt) == Int(previous) ? order : nil
    }

    /// Free-list walk for check(): nil on a cycle or an out-of-range index.
    func freeList() -> [UInt32]? {
        var list: [UInt32] = [], index = state(MapLayout.headAt)
        while index != 0 {
            guard index > 0, index <= maxEntries, list.count <= maxEntries else { return nil }
            list.append(UInt32(index))
            index = Int(entry(UInt32(index)).u32(Self.chainAt))
        }
        return list
    }
}

/// Key hashing that is the same in every process (Swift's Hasher is seeded per process).
enum KeyHash {
    @inline(__always) static func mix(_ x: UInt64) -> UInt64 {
        var h = x &* HashValueLayout.hashMultiplier
        h ^= h >> 32
        return h
    }

    @inline(__always) static func hash(_ key: UnsafeRawPointer, _ size: Int) -> UInt32 {
        switch size {
        case 4: return UInt32(truncatingIfNeeded: mix(UInt64(key.loadUnaligned(as: UInt32.self))))
        case 8: return UInt32(truncatingIfNeeded: mix(key.loadUnaligned(as: UInt64.self)))
        default: return hashBytes(key, size)
        }
    }

    /// Keys of other sizes: out of line, like `bytesEqual`.
    @inline(never) private static func hashBytes(_ key: UnsafeRawPointer, _ size: Int) -> UInt32 {
        var h = UInt64(size), at = 0
        while at + 8 <= size {
            h = mix(h ^ key.loadUnaligned(fromByteOffset: at, as: UInt64.self)) &+ 0x632B_E59B_D9B4_E019
            at += 8
        }
        var tail: UInt64 = 0
        for i in at..<size { tail |= UInt64(key.load(fromByteOffset: i, as: UInt8.self)) << (8 * (i - at)) }
        return UInt32(truncatingIfNeeded: mix(h ^ tail))
    }
}

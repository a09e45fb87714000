import Glibc

/// hash, percpu_hash, lru_hash and lru_percpu_hash: open addressing with linear probing over
/// a slot array of twice max_entries rounded up to a power of two, laid out at creation, so
/// updates never touch the allocator and most lookups touch one cache line. Deletion shifts
/// later entries of the probe run back (no tombstones).
///
/// Slot: state word (occupied, referenced bits), LRU previous and next slot ids (1-based,
/// LRU maps only), the key, then the values at an 8-byte boundary. LRU maps keep occupied
/// slots on a recency list (head = newest); as in the kernel, a lookup only sets the
/// "referenced" bit and eviction gives referenced entries at the tail a second chance.
extension MapStore {
    static let occupiedBit: UInt32 = 1 << 31, referencedBit: UInt32 = 1 << 30
    private static let lruPrevAt = 4, lruNextAt = 8

    var isLRU: Bool { layout.kind == .lruHash || layout.kind == .lruPercpuHash }
    @inline(__always) var slotCount: Int { layout.bucketCount }
    @inline(__always) func slot(_ index: Int) -> UnsafeMutableRawPointer { entries + index * entryStride }
    @inline(__always) func isOccupied(_ index: Int) -> Bool { slot(index).u32(0) & Self.occupiedBit != 0 }
    @inline(__always) func key(at index: Int) -> UnsafeMutableRawPointer { slot(index) + layout.keyOffsetInEntry }
    @inline(__always) func home(_ key: UnsafeRawPointer) -> Int {
        Int(truncatingIfNeeded: KeyHash.hash(key, keySize)) & (slotCount - 1)
    }

    @inline(__always) func keysEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> Bool {
        switch keySize {
        case 4: a.loadUnaligned(as: UInt32.self) == b.loadUnaligned(as: UInt32.self)
        case 8: a.loadUnaligned(as: UInt64.self) == b.loadUnaligned(as: UInt64.self)
        default: memcmp(a, b, keySize) == 0
        }
    }

    /// The slot holding `key`, or the empty slot where it would go; nil only when every slot
    /// is occupied, which a consistent map (count <= max_entries < slots) never has.
    @inline(__always) func probe(_ key: UnsafeRawPointer) -> (found: Bool, index: Int)? {
        var index = home(key)
        for _ in 0..<slotCount {
            let s = slot(index)
            if s.u32(0) & Self.occupiedBit == 0 { return (false, index) }
            if keysEqual(s + layout.keyOffsetInEntry, key) { return (true, index) }
            index = (index + 1) & (slotCount - 1)
        }
        return nil
    }

    @inline(__always) func hashLookup(_ key: UnsafeRawPointer, cpu: Int) -> UnsafeMutableRawPointer? {
        guard let (found, index) = probe(key), found else { return nil }
        let s = slot(index)
        if isLRU { s.set32(0, s.u32(0) | Self.referencedBit) }
        return s + layout.valueOffsetInEntry + cpu * layout.valueStride
    }

    func hashUpdate(_ key: UnsafeRawPointer, _ value: UnsafeRawPointer, flags: UInt64, cpu: Int?) -> Int32 {
        guard flags <= Self.exist else { return -EINVAL }
        guard var (found, index) = probe(key) else { return -EFAULT }
        if found {
            guard flags != Self.noExist else { return -EEXIST }
            let s = slot(index)
            save(s + layout.valueOffsetInEntry, layout.entryValueBytes)
            writeValue(s + layout.valueOffsetInEntry, value, cpu: cpu)
            if isLRU { s.set32(0, s.u32(0) | Self.referencedBit) }
            return 0
        }
        guard flags != Self.exist else { return -ENOENT }
        saveState()
        if count >= maxEntries {
            // Eviction shifts slots, so the free slot is found again afterwards.
            guard isLRU, evict(), let (_, free) = probe(key) else { return -E2BIG }
            index = free
        }
        let s = slot(index)
        save(s, entryStride)
        (s + layout.keyOffsetInEntry).copyMemory(from: key, byteCount: keySize)
        if cpu != nil, layout.cpus > 1 {
            (s + layout.valueOffsetInEntry).initializeMemory(as: UInt8.self, repeating: 0, count: layout.entryValueBytes)
        }
        writeValue(s + layout.valueOffsetInEntry, value, cpu: cpu)
        s.set32(0, Self.occupiedBit)
        if isLRU { lruPushFront(index) }
        crashPoint(.hashEntryLinked)
        setState(MapLayout.countAt, count + 1)
        return 0
    }

    func hashDelete(_ key: UnsafeRawPointer) -> Int32 {
        guard let (found, index) = probe(key), found else { return -ENOENT }
        saveState()
        removeSlot(index)
        return 0
    }

    /// Slot order; an absent (or nil) key starts from the first entry.
    func hashNextKey(after key: UnsafeRawPointer?, into out: UnsafeMutableRawPointer) -> Int32 {
        var start = 0
        if let key, let (found, index) = probe(key), found { start = index + 1 }
        for index in start..<max(start, slotCount) where isOccupied(index) {
            out.copyMemory(from: self.key(at: index), byteCount: keySize)
            return 0
        }
        return -ENOENT
    }

    /// Every occupied slot, in slot order.
    func forEachEntry(_ body: (Int) -> Void) {
        for index in 0..<slotCount where isOccupied(index) { body(index) }
    }

    // MARK: Removal

    /// Empties a slot, then moves back each later entry of the run that may live there, so
    /// every entry stays reachable from its home slot. Caller has saved the state fields.
    private func removeSlot(_ index: Int) {
        if isLRU { lruUnlink(index) }
        save(slot(index), 4)
        slot(index).set32(0, 0)
        setState(MapLayout.countAt, count - 1)
        let mask = slotCount - 1
        var hole = index, next = (index + 1) & mask
        for _ in 0..<slotCount {
            guard isOccupied(next) else { break }
            let distanceFromHome = (next - home(key(at: next))) & mask
            if (next - hole) & mask <= distanceFromHome {
                move(next, to: hole)
                hole = next
            }
            next = (next + 1) & mask
        }
    }

    private func move(_ from: Int, to: Int) {
        save(slot(to), entryStride)
        slot(to).copyMemory(from: slot(from), byteCount: entryStride)
        if isLRU {
            let s = slot(to), id = UInt32(to + 1)
            relink(s.u32(Self.lruPrevAt), Self.lruNextAt, orState: MapLayout.lruHeadAt, to: id)
            relink(s.u32(Self.lruNextAt), Self.lruPrevAt, orState: MapLayout.lruTailAt, to: id)
        }
        save(slot(from), 4)
        slot(from).set32(0, 0)
    }

    // MARK: LRU

    @inline(__always) private func validID(_ id: UInt32) -> Bool { id != 0 && Int(id) <= slotCount }

    /// Points a neighbour's link (or the list end in the state) at `id`.
    private func relink(_ neighbour: UInt32, _ field: Int, orState end: Int, to id: UInt32) {
        if validID(neighbour) {
            save(slot(Int(neighbour) - 1) + field, 4)
            slot(Int(neighbour) - 1).set32(field, id)
        } else {
            setState(end, Int(id))
        }
    }

    /// Frees the least recently used entry, passing over referenced ones once (bounded, so
    /// a map of referenced entries still evicts promptly). Caller has saved the state fields.
    private func evict() -> Bool {
        var victim = UInt32(truncatingIfNeeded: state(MapLayout.lruTailAt)), chances = 0
        while validID(victim), chances < min(count, 32), slot(Int(victim) - 1).u32(0) & Self.referencedBit != 0 {
            let index = Int(victim) - 1
            lruUnlink(index)
            save(slot(index), 4)
            slot(index).set32(0, Self.occupiedBit)
            lruPushFront(index)
            victim = UInt32(truncatingIfNeeded: state(MapLayout.lruTailAt))
            chances += 1
        }
        guard validID(victim), isOccupied(Int(victim) - 1) else { return false }
        removeSlot(Int(victim) - 1)
        return true
    }

    private func lruPushFront(_ index: Int) {
        let head = UInt32(truncatingIfNeeded: state(MapLayout.lruHeadAt)), id = UInt32(index + 1)
        let s = slot(index)
        save(s + Self.lruPrevAt, 8)
        s.set32(Self.lruPrevAt, 0)
        s.set32(Self.lruNextAt, validID(head) ? head : 0)
        relink(head, Self.lruPrevAt, orState: MapLayout.lruTailAt, to: id)
        setState(MapLayout.lruHeadAt, Int(id))
    }

    private func lruUnlink(_ index: Int) {
        let s = slot(index)
        let previous = s.u32(Self.lruPrevAt), next = s.u32(Self.lruNextAt)
        relink(previous, Self.lruNextAt, orState: MapLayout.lruHeadAt, to: validID(next) ? next : 0)
        relink(next, Self.lruPrevAt, orState: MapLayout.lruTailAt, to: validID(previous) ? previous : 0)
    }

    // MARK: Checking

    func hashProblems() -> [String] {
        var problems: [String] = []
        var occupied = Set<Int>()
        let mask = slotCount - 1
        for index in 0..<slotCount where isOccupied(index) {
            occupied.insert(index)
            let home = home(key(at: index))
            var at = home
            while at != index, isOccupied(at) { at = (at + 1) & mask }
            if at != index {
                problems.append("slot \(index) is cut off from its home slot \(home) by an empty slot: lookups miss it")
            } else if let (_, first) = probe(key(at: index)), first != index {
                problems.append("slot \(index) repeats the key of slot \(first)")
            }
            if problems.count > 20 { break }
        }
        if occupied.count != count { problems.append("count is \(count), \(occupied.count) slots are occupied") }
        if count > maxEntries { problems.append("count \(count) exceeds max_entries \(maxEntries)") }
        if isLRU {
            if let order = lruOrder() {
                if order.count != occupied.count || Set(order.map { Int($0) - 1 }) != occupied {
                    problems.append("LRU list (\(order.count) entries) differs from the occupied slots (\(occupied.count))")
                }
            } else {
                problems.append("LRU list is broken")
            }
        }
        return problems
    }

    /// LRU slot ids head to tail, or nil on a broken link.
    func lruOrder() -> [UInt32]? {
        var order: [UInt32] = [], id = UInt32(truncatingIfNeeded: state(MapLayout.lruHeadAt)), previous: UInt32 = 0
        while id != 0 {
            guard validID(id), order.count <= maxEntries, slot(Int(id) - 1).u32(Self.lruPrevAt) == previous else { return nil }
            order.append(id)
            previous = id
            id = slot(Int(id) - 1).u32(Self.lruNextAt)
        }
        return state(MapLayout.lruTailAt) == Int(previous) ? order : nil
    }
}

/// Key hashing that is the same in every process (Swift's Hasher is seeded per process).
enum KeyHash {
    /// MurmurHash3's finaliser: every input bit affects every output bit.
    @inline(__always) static func mix(_ x: UInt64) -> UInt64 {
        var h = x
        h ^= h >> 33
        h &*= 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        h &*= 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 33
        return h
    }

    @inline(__always) static func hash(_ key: UnsafeRawPointer, _ size: Int) -> UInt64 {
        switch size {
        case 4: return mix(UInt64(key.loadUnaligned(as: UInt32.self)))
        case 8: return mix(key.loadUnaligned(as: UInt64.self))
        default:
            var h = UInt64(size), at = 0
            while at + 8 <= size {
                h = mix(h ^ key.loadUnaligned(fromByteOffset: at, as: UInt64.self))
                at += 8
            }
            var tail: UInt64 = 0
            for i in at..<size { tail |= UInt64(key.load(fromByteOffset: i, as: UInt8.self)) << (8 * (i - at)) }
            return mix(h ^ tail)
        }
    }
}

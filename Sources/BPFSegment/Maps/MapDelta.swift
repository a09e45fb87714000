import BPFModel
import Glibc

/// The entries that differ between a keyed map's storage and the contents it should hold:
/// what an apply writes to replace a map in place, instead of building a second copy.
struct MapDelta {
    /// Keys to remove (plain arrays: indices to zero, as they cannot be deleted).
    var removed: [[UInt8]] = []
    /// Indices into the target contents of entries whose value changes.
    var changed: [Int] = []
    /// Indices into the target contents of entries to add (a key given twice is refused).
    var added: [Int] = []

    var changeCount: Int { removed.count + changed.count + added.count }
}

extension MapStore {
    /// An upper bound of the undo-journal bytes one update or delete of this map writes, so
    /// that a whole delta is known to fit the journal before its first write. (Removals go
    /// first, so an insert never evicts.)
    var journalBytesPerChange: Int {
        func entry(_ bytes: Int) -> Int { 16 + roundUp(bytes, 8) }
        return entry(MapLayout.stateBytes) + entry(layout.entryValueBytes) + entry(layout.entryStride)
            + entry(max(layout.keyOffsetInEntry, 8)) + 6 * entry(8)
    }

    /// The value slot holding `key` now (CPU 0's for per-CPU maps), without touching LRU state.
    private func slot(of key: UnsafeRawPointer) -> UnsafeMutableRawPointer? {
        switch layout.kind {
        case .hash, .percpuHash, .lruHash, .lruPercpuHash, .stackTrace:
            return find(key, bucket: bucketIndex(key)).map { entry($0.index) + valueOffset }
        case .array, .percpuArray, .progArray:
            return arrayLookup(key, cpu: 0)
        case .queue, .stack, .ringbuf, .perfEventArray:
            return nil
        }
    }

    /// The changes that bring this keyed map to `target` (whose shape `contentsProblem`
    /// accepted); nil for maps that are not keyed, and when `target` names a present key twice
    /// (building a new copy then refuses it with the usual words).
    func delta(to target: MapContents) -> MapDelta? {
        guard layout.kind.isKeyed, target.keySize == keySize else { return nil }
        var delta = MapDelta()
        var present = Set<UnsafeMutableRawPointer>()
        var duplicate = false
        let stride = target.entryStride
        var current = [UInt8](repeating: 0, count: stride)
        target.keys.withUnsafeBytes { keys in
            target.values.withUnsafeBytes { values in
                guard let keyBase = keys.baseAddress, let valueBase = values.baseAddress else { return }
                let list = KeySequence(base: keyBase, stride: keySize, count: target.count)
                startPrefetching(list)
                for i in 0..<target.count {
                    prefetch(after: i, in: list)
                    guard let slot = slot(of: list[i]) else { delta.added.append(i); continue }
                    guard present.insert(slot).inserted else { duplicate = true; return }
                    current.withUnsafeMutableBytes { readValue(slot, into: $0.baseAddress!) }
                    if memcmp(current, valueBase + i * stride, stride) != 0 { delta.changed.append(i) }
                }
            }
        }
        if duplicate { return nil }
        if present.count < liveEntryCount { delta.removed = keysAbsent(from: target) }
        return delta
    }

    /// Entries the map holds now: array indices all exist; prog_array and hash entries only when set.
    private var liveEntryCount: Int {
        switch layout.kind {
        case .array, .percpuArray: maxEntries
        case .progArray: (0..<maxEntries).count(where: { arraySlot($0).u32(0) != Self.emptyProgramSlot })
        default: boundedCount
        }
    }

    private func keysAbsent(from target: MapContents) -> [[UInt8]] {
        let wanted = Set((0..<target.count).map { Array(target.key(at: $0)) })
        var absent: [[UInt8]] = []
        var key = [UInt8](repeating: 0, count: keySize)
        var previous: [UInt8]? = nil
        while key.withUnsafeMutableBytes({ out in
            previous.map { p in p.withUnsafeBytes { nextKey(after: $0.baseAddress, into: out.baseAddress!) } }
                ?? nextKey(after: nil, into: out.baseAddress!)
        }) == 0 {
            if layout.kind != .progArray || slot(of: key) != nil, !wanted.contains(key) { absent.append(key) }
            previous = key
        }
        return absent
    }

    /// Writes `delta` through the journal; a problem names the entry that was refused.
    func apply(_ delta: MapDelta, _ target: MapContents) -> String? {
        let zero = [UInt8](repeating: 0, count: target.entryStride)
        for key in delta.removed {
            let result = key.withUnsafeBytes { k in
                layout.kind.isArray && layout.kind != .progArray
                    ? zero.withUnsafeBytes { update(k.baseAddress, $0.baseAddress!, flags: Self.any, cpu: nil) }
                    : self.delete(k.baseAddress!)
            }
            if result != 0 { return "removing key \(Hex.encode(key)) was refused (\(SegmentError.meaning(op: "delete", errno: -result)))" }
        }
        let adds = layout.kind.isArray ? Self.any : Self.noExist
        let writes = delta.changed + delta.added
        guard !writes.isEmpty else { return nil }
        return target.keys.withUnsafeBytes { keys in
            target.values.withUnsafeBytes { values in
                writes.withUnsafeBufferPointer { order in
                    let list = KeySequence(base: keys.baseAddress!, stride: keySize, count: writes.count, order: order)
                    startPrefetching(list)
                    for n in 0..<writes.count {
                        prefetch(after: n, in: list)
                        let result = update(list[n], values.baseAddress! + writes[n] * target.entryStride, flags: n < delta.changed.count ? Self.any : adds, cpu: nil)
                        guard result != 0 else { continue }
                        let text = Hex.encode(UnsafeRawBufferPointer(start: list[n], count: keySize))
                        return result == -EEXIST ? "key \(text) appears twice"
                            : "key \(text) was refused (\(SegmentError.meaning(op: "update", errno: -result)))"
                    }
                    return nil
                }
            }
        }
    }
}

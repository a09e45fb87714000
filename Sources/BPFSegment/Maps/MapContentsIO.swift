import BPFModel
import Glibc

/// Bulk copies between a map's storage and `MapContents`, for export, import and snapshots.
extension MapStore {
    /// The contents' shape must match the map: sizes, values per entry, entry count.
    static func contentsProblem(_ c: MapContents, _ layout: MapLayout) -> String? {
        let sequence = layout.kind.isSequence
        let expectedKey = sequence ? 0 : layout.keySize
        if !layout.kind.isKeyed && !sequence { return "a \(layout.kind.rawValue) map holds no data, but contents were given" }
        if c.keySize != expectedKey { return "contents key size \(c.keySize) differs from key_size \(expectedKey)" }
        if c.valueSize != layout.valueSize { return "contents value size \(c.valueSize) differs from value_size \(layout.valueSize)" }
        // No entries fit any CPU count: a file cannot tell how many CPUs an empty map had.
        if c.valuesPerEntry != layout.cpus && c.count > 0 {
            return "contents hold \(c.valuesPerEntry) value(s) per entry, this map needs \(layout.cpus) (one per possible CPU)"
        }
        guard c.entryStride > 0, c.values.count % c.entryStride == 0, c.keys.count == c.count * c.keySize else {
            return "contents have \(c.keys.count) key bytes and \(c.values.count) value bytes, which do not make whole entries"
        }
        if c.count > layout.maxEntries { return "contents hold \(c.count) entries, max_entries is \(layout.maxEntries)" }
        return nil
    }

    /// Fills a freshly formatted map. Unjournaled: nothing reaches the map yet.
    func fill(_ c: MapContents) -> String? {
        let store = MapStore(base: base, layout: layout, journal: journal)
        store.journaling = false
        return c.keys.withUnsafeBytes { keys in
            c.values.withUnsafeBytes { values in
                guard let valueBase = values.baseAddress else { return nil }
                if layout.kind.isSequence {
                    for i in 0..<c.count {
                        let result = store.push(valueBase + i * c.entryStride, flags: Self.any)
                        if result != 0 { return "entry \(i) was refused (\(SegmentError.meaning(op: "update", errno: -result)))" }
                    }
                    return nil
                }
                guard let keyBase = keys.baseAddress else { return c.count == 0 ? nil : "contents hold values without keys" }
                let list = KeySequence(base: keyBase, stride: c.keySize, count: c.count)
                store.startPrefetching(list)
                for i in 0..<c.count {
                    store.prefetch(after: i, in: list)
                    let result = store.update(list[i], valueBase + i * c.entryStride, flags: layout.kind.isArray ? Self.any : Self.noExist, cpu: nil)
                    switch result {
                    case 0: continue
                    case -EEXIST: return "key \(Hex.encode(UnsafeRawBufferPointer(start: list[i], count: c.keySize))) appears twice"
                    case -E2BIG: return "index \(list[i].loadUnaligned(as: UInt32.self)) is not below max_entries \(maxEntries)"
                    default: return "entry \(i) was refused (\(SegmentError.meaning(op: "update", errno: -result)))"
                    }
                }
                return nil
            }
        }
    }

    /// A copy of the data: hash entries in bucket order, every array index (occupied
    /// prog_array slots only), queue and stack values oldest first.
    func contents() -> MapContents {
        var c = MapContents(shapeOf: layout)
        let valueBytes = layout.cpus * valueSize
        // `c` passed, not captured: a nested function capturing a `var` boxes it, and every
        // access to a box is checked for exclusivity at run time (once per entry here).
        func append(_ c: inout MapContents, key: UnsafeRawPointer?, slot: UnsafeRawPointer) {
            if let key { c.keys.append(contentsOf: UnsafeRawBufferPointer(start: key, count: keySize)) }
            if layout.cpus == 1 {
                c.values.append(contentsOf: UnsafeRawBufferPointer(start: slot, count: valueSize))
            } else {
                for cpu in 0..<layout.cpus {
                    c.values.append(contentsOf: UnsafeRawBufferPointer(start: slot + cpu * layout.valueStride, count: valueSize))
                }
            }
        }
        switch layout.kind {
        case .hash, .percpuHash, .lruHash, .lruPercpuHash, .stackTrace:
            c.keys.reserveCapacity(boundedCount * keySize)
            c.values.reserveCapacity(boundedCount * valueBytes)
            forEachEntry { index in
                let e = entry(index)
                append(&c, key: e + keyOffset, slot: e + valueOffset)
            }
        case .array, .percpuArray, .progArray:
            c.keys.reserveCapacity(maxEntries * 4)
            c.values.reserveCapacity(maxEntries * valueBytes)
            for index in 0..<maxEntries {
                let slot = arraySlot(index)
                if layout.kind == .progArray, slot.u32(0) == Self.emptyProgramSlot { continue }
                withUnsafeBytes(of: UInt32(index).littleEndian) { append(&c, key: $0.baseAddress, slot: slot) }
            }
        case .queue, .stack:
            forEachValue { append(&c, key: nil, slot: $0) }
        case .ringbuf, .perfEventArray:
            break
        }
        return c
    }
}

extension MapContents {
    /// No entries, in the shape of `layout`'s map.
    init(shapeOf layout: MapLayout) {
        self.init(keySize: layout.kind.isSequence ? 0 : layout.keySize, valueSize: layout.valueSize, valuesPerEntry: layout.cpus)
    }
}

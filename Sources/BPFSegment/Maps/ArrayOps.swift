import Glibc

/// array, percpu_array and prog_array: every index below max_entries exists. A prog_array
/// slot holding -1 is empty (no program), as after a delete.
extension MapStore {
    static let emptyProgramSlot = UInt32.max

    @inline(__always) func arraySlot(_ index: Int) -> UnsafeMutableRawPointer { entries + index * entryStride }

    @inline(__always) func arrayLookup(_ key: UnsafeRawPointer, cpu: Int) -> UnsafeMutableRawPointer? {
        let index = Int(key.loadUnaligned(as: UInt32.self))
        guard index < maxEntries else { return nil }
        let slot = arraySlot(index)
        if layout.kind == .progArray, slot.u32(0) == Self.emptyProgramSlot { return nil }
        return slot + cpu * layout.valueStride
    }

    func arrayUpdate(_ key: UnsafeRawPointer, _ value: UnsafeRawPointer, flags: UInt64, cpu: Int?) -> Int32 {
        guard flags <= Self.exist else { return -EINVAL }
        let index = Int(key.loadUnaligned(as: UInt32.self))
        guard index < maxEntries else { return -E2BIG }
        guard flags != Self.noExist else { return -EEXIST }
        let slot = arraySlot(index)
        save(slot, entryStride)
        writeValue(slot, value, cpu: cpu)
        crashPoint(.arrayValueWritten)
        return 0
    }

    func arrayDelete(_ key: UnsafeRawPointer) -> Int32 {
        guard layout.kind == .progArray else { return -EINVAL }
        let index = Int(key.loadUnaligned(as: UInt32.self))
        guard index < maxEntries else { return -E2BIG }
        let slot = arraySlot(index)
        guard slot.u32(0) != Self.emptyProgramSlot else { return -ENOENT }
        save(slot, 4)
        slot.set32(0, Self.emptyProgramSlot)
        return 0
    }

    /// Empties the prog_array slots that hold one of `programs`; with `dryRun`, only counts them.
    /// Returns how many it emptied (or would).
    @discardableResult
    func clearProgramSlots(holding programs: Set<Int>, dryRun: Bool = false) -> Int {
        var cleared = 0
        for index in 0..<maxEntries {
            let slot = arraySlot(index)
            guard slot.u32(0) != Self.emptyProgramSlot, programs.contains(Int(slot.u32(0))) else { continue }
            cleared += 1
            guard !dryRun else { continue }
            save(slot, 4)
            slot.set32(0, Self.emptyProgramSlot)
        }
        return cleared
    }

    func arrayNextKey(after key: UnsafeRawPointer?, into out: UnsafeMutableRawPointer) -> Int32 {
        let next: Int
        if let key, case let index = Int(key.loadUnaligned(as: UInt32.self)), index < maxEntries {
            guard index + 1 < maxEntries else { return -ENOENT }
            next = index + 1
        } else {
            next = 0
        }
        out.storeBytes(of: UInt32(next), as: UInt32.self)
        return 0
    }
}

import Glibc

/// queue and stack: a ring of max_entries slots holding `count` values from `head` (oldest)
/// onwards. A queue pops the oldest, a stack the newest; pushing to a full one with BPF_EXIST
/// drops the oldest in both, as the kernel does.
extension MapStore {
    @inline(__always) private func sequenceSlot(_ position: Int) -> UnsafeMutableRawPointer {
        entries + (position % maxEntries) * entryStride
    }
    private var head: Int { state(MapLayout.headAt) }
    private var validState: Bool { head >= 0 && head < maxEntries && count >= 0 && count <= maxEntries }

    func push(_ value: UnsafeRawPointer, flags: UInt64) -> Int32 {
        guard flags == Self.any || flags == Self.exist else { return -EINVAL }
        guard validState else { return -EFAULT }
        saveState()
        if count == maxEntries {
            guard flags == Self.exist else { return -E2BIG }
            save(sequenceSlot(head), valueSize)
            setState(MapLayout.headAt, (head + 1) % maxEntries)
            setState(MapLayout.countAt, count &- 1)
        }
        sequenceSlot(head + count).copyMemory(from: value, byteCount: valueSize)
        orderStores()
        setState(MapLayout.countAt, count &+ 1)
        return 0
    }

    /// Copies the value pop would return; removes it when `remove`.
    func take(into out: UnsafeMutableRawPointer, remove: Bool) -> Int32 {
        guard validState else { return -EFAULT }
        guard count > 0 else { return -ENOENT }
        let newest = layout.kind == .stack
        out.copyMemory(from: sequenceSlot(newest ? head + count - 1 : head), byteCount: valueSize)
        if remove {
            saveState()
            if !newest { setState(MapLayout.headAt, (head + 1) % maxEntries) }
            setState(MapLayout.countAt, count &- 1)
        }
        return 0
    }

    /// Values oldest first.
    func forEachValue(_ body: (UnsafeRawPointer) -> Void) {
        guard validState else { return }
        for i in 0..<count { body(sequenceSlot(head + i)) }
    }

    func sequenceProblems() -> [String] {
        validState ? [] : ["head \(head) / count \(count) out of range for \(maxEntries) slots"]
    }
}

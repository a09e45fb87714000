import Synchronization

/// Unaligned, trap-free access to segment bytes: offsets read from the segment are validated by
/// callers, but a corrupt value must never turn into an alignment trap.
extension UnsafeMutableRawPointer {
    @inline(__always) func u64(_ offset: Int) -> UInt64 { loadUnaligned(fromByteOffset: offset, as: UInt64.self) }
    @inline(__always) func u32(_ offset: Int) -> UInt32 { loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
    @inline(__always) func set64(_ offset: Int, _ value: UInt64) { storeBytes(of: value, toByteOffset: offset, as: UInt64.self) }
    @inline(__always) func set32(_ offset: Int, _ value: UInt32) { storeBytes(of: value, toByteOffset: offset, as: UInt32.self) }
    /// An offset field as Int; values beyond Int.max come back negative and fail every range check.
    @inline(__always) func offset(_ at: Int) -> Int { Int(truncatingIfNeeded: u64(at)) }

    /// Word fields that other processes read without the lock (generations, journal length).
    @inline(__always) func atomic64(_ offset: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        (self + offset).assumingMemoryBound(to: Atomic<UInt64>.self)
    }
}

/// A copy that avoids a memmove call for the small sizes keys and values usually have.
@inline(__always) func copyBytes(_ destination: UnsafeMutableRawPointer, _ source: UnsafeRawPointer, _ count: Int) {
    switch count {
    case 4: destination.storeBytes(of: source.loadUnaligned(as: UInt32.self), as: UInt32.self)
    case 8: destination.storeBytes(of: source.loadUnaligned(as: UInt64.self), as: UInt64.self)
    case 16:
        destination.storeBytes(of: source.loadUnaligned(as: UInt64.self), as: UInt64.self)
        destination.storeBytes(of: source.loadUnaligned(fromByteOffset: 8, as: UInt64.self), toByteOffset: 8, as: UInt64.self)
    default: destination.copyMemory(from: source, byteCount: count)
    }
}

/// Keeps the compiler from moving memory accesses across a point that crash recovery relies
/// on, in either direction: x86 keeps store order, so this costs nothing at run time.
@inline(__always) func orderStores() { atomicMemoryFence(ordering: .acquiringAndReleasing) }

/// Wrapping, so that a corrupt size read from the segment cannot trap; callers range-check.
@inline(__always) func roundUp(_ value: Int, _ alignment: Int) -> Int { (value &+ alignment &- 1) & ~(alignment &- 1) }

/// `base + count * stride`, or nil on overflow (sizes come from untrusted attributes).
func checkedSize(_ parts: [(Int, Int)], plus base: Int = 0) -> Int? {
    var total = base
    for (count, stride) in parts {
        let (product, o1) = count.multipliedReportingOverflow(by: stride)
        let (sum, o2) = total.addingReportingOverflow(product)
        if o1 || o2 { return nil }
        total = sum
    }
    return total
}

import Glibc

/// The calling thread's stack, found when a thread first fires (`pthread_getattr_np`; for the
/// main thread glibc reads /proc/self/maps) and kept while the same thread fires.
struct ThreadStack {
    /// glibc's `pthread_getattr_np`, which the Glibc module does not import (it needs _GNU_SOURCE).
    private typealias GetAttributes = @convention(c) (pthread_t, UnsafeMutablePointer<pthread_attr_t>) -> Int32
    private static let getAttributes: GetAttributes? = dlsym(nil, "pthread_getattr_np").map { unsafeBitCast($0, to: GetAttributes.self) }

    private var thread: pthread_t?
    private var low: UInt64 = 0, high: UInt64 = 0

    /// `[sp, top of stack)` when `sp` lies on the calling thread's stack, else nil: the part a
    /// hooked function's callers own, which programs may read (`probe_read_user`, `get_stack`).
    /// Inlined into every fire of a call: a call and its frame would cost more than the check.
    @inline(__always)
    mutating func above(_ sp: UInt64) -> UnsafeRawBufferPointer? {
        // pthread_t is glibc's thread pointer (an integer), which `pthread_equal` compares with ==.
        let me = pthread_self()
        if thread != me { locate(me) }
        guard (low ..< high).contains(sp), let base = UnsafeRawPointer(bitPattern: UInt(sp)) else { return nil }
        return UnsafeRawBufferPointer(start: base, count: Int(high - sp))
    }

    @inline(never)
    private mutating func locate(_ me: pthread_t) {
        thread = me
        (low, high) = (0, 0)
        var attributes = pthread_attr_t()
        guard let getAttributes = Self.getAttributes, getAttributes(me, &attributes) == 0 else { return }
        defer { pthread_attr_destroy(&attributes) }
        var address: UnsafeMutableRawPointer?
        var size = 0
        guard pthread_attr_getstack(&attributes, &address, &size) == 0, let address else { return }
        low = UInt64(UInt(bitPattern: address))
        high = low &+ UInt64(size)
    }
}

import Glibc
import Synchronization

/// Keeps a process alive when another process truncates a segment it has mapped: touching a
/// page past the object's new end raises SIGBUS, which would kill the traced application.
///
/// Once installed (by a long-running user such as the agent), a SIGBUS inside a guarded
/// mapping replaces the rest of that mapping with private zero pages and resumes: the faulting
/// access reads zeros, and the owner learns from `Segment.isIntact` that the object shrank and
/// stops using it. A SIGBUS anywhere else goes to the previous handler (or the default action).
enum TruncationGuard {
    static let slotCount = 64
    /// Start and end of each guarded mapping (0 = free slot); read by the handler without locks.
    /// (Safe to share between threads: the pointers never change and what they point to is atomic.)
    nonisolated(unsafe) private static let starts = UnsafeMutablePointer<Atomic<UInt>>.allocate(capacity: slotCount)
    nonisolated(unsafe) private static let ends = UnsafeMutablePointer<Atomic<UInt>>.allocate(capacity: slotCount)
    nonisolated(unsafe) private static var previous = sigaction()
    nonisolated(unsafe) private static var installed = false
    /// Serializes registration (rare); the handler itself takes no lock.
    nonisolated(unsafe) private static var registration = pthread_mutex_t()

    private static func withRegistration<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&registration)
        defer { pthread_mutex_unlock(&registration) }
        return body()
    }

    /// Guards `base ..< base + size` until `unguard(base)`; false when every slot is taken.
    static func guardMapping(_ base: UnsafeMutableRawPointer, size: Int) -> Bool {
        withRegistration {
            if !installed {
                for i in 0 ..< slotCount {
                    (starts + i).initialize(to: Atomic(0))
                    (ends + i).initialize(to: Atomic(0))
                }
                var action = sigaction()
                action.__sigaction_handler.sa_sigaction = handleBusError
                action.sa_flags = SA_SIGINFO | SA_NODEFER
                sigemptyset(&action.sa_mask)
                sigaction(SIGBUS, &action, &previous)
                installed = true
            }
            let start = UInt(bitPattern: base)
            guard let slot = (0 ..< slotCount).first(where: { (starts + $0).pointee.load(ordering: .relaxed) == 0 }) else { return false }
            (ends + slot).pointee.store(start + UInt(size), ordering: .relaxed)
            (starts + slot).pointee.store(start, ordering: .releasing)
            return true
        }
    }

    /// Stops guarding the mapping at `base` (before it is unmapped).
    static func unguard(_ base: UnsafeMutableRawPointer) {
        withRegistration {
            guard installed else { return }
            let start = UInt(bitPattern: base)
            for i in 0 ..< slotCount where (starts + i).pointee.load(ordering: .relaxed) == start {
                (starts + i).pointee.store(0, ordering: .releasing)
            }
        }
    }

    /// Async-signal-safe: atomic loads, `mmap`, `sigaction`.
    private static let handleBusError: @convention(c) (Int32, UnsafeMutablePointer<siginfo_t>?, UnsafeMutableRawPointer?) -> Void = { _, info, _ in
        let address = UInt(bitPattern: info?.pointee._sifields._sigfault.si_addr)
        for i in 0 ..< TruncationGuard.slotCount {
            let start = (TruncationGuard.starts + i).pointee.load(ordering: .acquiring)
            let end = (TruncationGuard.ends + i).pointee.load(ordering: .relaxed)
            guard start != 0, address >= start, address < end else { continue }
            let page = address & ~UInt(sysconf(Int32(_SC_PAGESIZE)) - 1)
            let replaced = mmap(UnsafeMutableRawPointer(bitPattern: page), Int(end - page), PROT_READ | PROT_WRITE,
                                MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            if replaced != MAP_FAILED { return }
        }
        // Not ours: the previous disposition handles the fault when it recurs.
        sigaction(SIGBUS, &TruncationGuard.previous, nil)
    }
}

import Glibc

/// The segment's one process-shared robust mutex. When its holder dies, the next locker gets
/// EOWNERDEAD, repairs the segment (`recover`), then marks the mutex consistent again.
struct RobustMutex {
    let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// How long a locker waits for a live holder before giving up with an error.
    static let timeoutSeconds = 10

    init(_ header: Header) {
        mutex = (header.base + Header.mutexAt).assumingMemoryBound(to: pthread_mutex_t.self)
    }

    /// Initialises the mutex in a fresh segment.
    func initialize() throws {
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        defer { pthread_mutexattr_destroy(&attributes) }
        pthread_mutexattr_setpshared(&attributes, Int32(PTHREAD_PROCESS_SHARED))
        pthread_mutexattr_setrobust(&attributes, Int32(PTHREAD_MUTEX_ROBUST))
        let result = pthread_mutex_init(mutex, &attributes)
        guard result == 0 else { throw SegmentError.system(operation: "pthread_mutex_init", errno: result) }
    }

    enum Outcome { case acquired, acquiredFromDeadOwner, timedOut, unrecoverable, failed(Int32) }

    /// The uncontended case is one compare-and-swap; contention waits with a deadline.
    @inline(__always) func lock() -> Outcome {
        let result = pthread_mutex_trylock(mutex)
        return result == 0 ? .acquired : slowLock(result)
    }

    @inline(never) private func slowLock(_ first: Int32) -> Outcome {
        var result = first
        if result == EBUSY {
            var deadline = timespec()
            clock_gettime(CLOCK_REALTIME, &deadline)
            deadline.tv_sec += Self.timeoutSeconds
            result = pthread_mutex_timedlock(mutex, &deadline)
        }
        switch result {
        case 0: return .acquired
        case EOWNERDEAD: return .acquiredFromDeadOwner
        case ETIMEDOUT: return .timedOut
        case ENOTRECOVERABLE: return .unrecoverable
        default: return .failed(result)
        }
    }

    func markConsistent() { pthread_mutex_consistent(mutex) }
    @inline(__always) func unlock() { pthread_mutex_unlock(mutex) }
}

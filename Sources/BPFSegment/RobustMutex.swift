import Glibc
import Synchronization

/// The segment's one process-shared robust mutex, made fair by a ticket queue in front of it.
/// When its holder dies, the next locker gets EOWNERDEAD, repairs the segment (`recover`),
/// then marks the mutex consistent again.
///
/// A plain mutex lets a process that unlocks and relocks in a loop (a target whose hooks update
/// maps) take the lock again before a woken waiter runs, so a tool could wait seconds. Here a
/// locker that finds the lock busy takes a ticket (`next`), waits until `serving` reaches it,
/// then locks the mutex and lets the next ticket go; while anyone holds a ticket, newcomers queue
/// too instead of barging in. The mutex alone still decides ownership, so a holder's death is
/// EOWNERDEAD as before. A ticket whose owner died waiting (or that garbage put in the words)
/// stalls the queue only until a waiter sees `serving` unchanged for `stallNanoseconds` and
/// moves it to its own ticket; a waiter whose ticket was passed goes straight to the mutex.
struct RobustMutex {
    let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let next: UnsafeMutablePointer<Atomic<UInt64>>
    private let serving: UnsafeMutablePointer<Atomic<UInt64>>
    /// How long a locker waits for a live holder before giving up with an error.
    static let timeoutSeconds = 10
    /// How long the ticket being served may keep the queue still before waiters pass it.
    static let stallNanoseconds: Int64 = 50_000_000
    /// Loads of the lock word before taking a ticket: a map operation holds the lock ~100 ns.
    static let spins = 400

    init(_ header: Header) {
        mutex = (header.base + Header.mutexAt).assumingMemoryBound(to: pthread_mutex_t.self)
        next = header.base.atomic64(Header.queueNextAt)
        serving = header.base.atomic64(Header.queueServingAt)
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

    /// The uncontended case is two loads and one compare-and-swap; contention queues.
    @inline(__always) func lock() -> Outcome {
        guard queueIsEmpty else { return slowLock(EBUSY) }
        let result = pthread_mutex_trylock(mutex)
        return result == 0 ? .acquired : slowLock(result)
    }

    @inline(__always) private var queueIsEmpty: Bool {
        next.pointee.load(ordering: .relaxed) == serving.pointee.load(ordering: .relaxed)
    }

    /// glibc's lock word (the first field of pthread_mutex_t): 0 when free. Read only to spin.
    private var lockWord: UInt32 {
        UnsafeMutableRawPointer(mutex).assumingMemoryBound(to: Atomic<UInt32>.self).pointee.load(ordering: .relaxed)
    }

    @inline(never) private func slowLock(_ first: Int32) -> Outcome {
        if first != EBUSY { return outcome(first) }
        // A short spin while nobody queues: most holders are about to let go.
        var result = spinOnMutex { queueIsEmpty }
        if result != EBUSY { return outcome(result) }
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        deadline.tv_sec += Self.timeoutSeconds
        let ticket = next.pointee.wrappingAdd(1, ordering: .acquiringAndReleasing).oldValue
        waitForTurn(ticket, giveUpAt: Self.now() + Int64(Self.timeoutSeconds) * 1_000_000_000)
        result = spinOnMutex { true }
        if result == EBUSY { result = pthread_mutex_timedlock(mutex, &deadline) }
        // Holding the mutex (or giving up), let the next ticket start. A passed ticket moves
        // nothing, except a `serving` ahead of `next` (never so but by garbage) back to it.
        if !serving.pointee.compareExchange(expected: ticket, desired: ticket &+ 1, ordering: .acquiringAndReleasing).exchanged {
            let last = next.pointee.load(ordering: .acquiring), current = serving.pointee.load(ordering: .acquiring)
            if Int64(bitPattern: current &- last) > 0 {
                _ = serving.pointee.compareExchange(expected: current, desired: last, ordering: .acquiringAndReleasing)
            }
        }
        return outcome(result)
    }

    /// Try-locks whenever the lock word reads free, up to `spins` reads while `proceed` holds:
    /// the try-lock's result, or EBUSY.
    private func spinOnMutex(while proceed: () -> Bool) -> Int32 {
        var round = 0
        while round < Self.spins && proceed() {
            if lockWord == 0 {
                let result = pthread_mutex_trylock(mutex)
                if result != EBUSY { return result }
            }
            round += 1
        }
        return EBUSY
    }

    /// Returns once `serving` reaches `ticket` (or went past it), after passing a stalled queue,
    /// or at `giveUpAt` (monotonic nanoseconds).
    private func waitForTurn(_ ticket: UInt64, giveUpAt: Int64) {
        var seen = serving.pointee.load(ordering: .acquiring)
        var stillSince = Self.now()
        var round = 0
        while Int64(bitPattern: seen &- ticket) < 0 {
            round += 1
            var now = stillSince
            if round > Self.spins {
                if round < Self.spins * 2 {
                    sched_yield()
                } else {
                    var pause = timespec(tv_sec: 0, tv_nsec: 20_000)
                    nanosleep(&pause, nil)
                }
                now = Self.now()
                if now > giveUpAt { return }
            }
            let current = serving.pointee.load(ordering: .acquiring)
            if current != seen {
                seen = current
                stillSince = now
            } else if now - stillSince > Self.stallNanoseconds {
                // The ticket being served belongs to no live waiter: take over from it.
                _ = serving.pointee.compareExchange(expected: seen, desired: ticket, ordering: .acquiringAndReleasing)
                return
            }
        }
    }

    private static func now() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
    }

    private func outcome(_ result: Int32) -> Outcome {
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

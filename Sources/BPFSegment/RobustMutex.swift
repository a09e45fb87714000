import Glibc
import Synchronization

/// The segment's one process-shared robust mutex, made fair by a ticket queue in front of it.
/// When its holder dies, the next locker gets EOWNERDEAD, repairs the segment (`recover`),
/// then marks the mutex consistent again.
///
/// A plain mutex lets processes that unlock and relock in a loop (targets whose hooks update
/// maps) take the lock again and again before a woken waiter runs, so a tool could wait seconds.
/// Here a locker that finds the lock busy competes for it as before (spinning, then sleeping in
/// the mutex) for up to `starvingNanoseconds`; after that it takes a ticket (`next`) and waits
/// until `serving` reaches it, and while anyone holds a ticket nobody else competes: the mutex
/// goes to the ticket being served, which then lets the next one go. Contention between equals
/// thus costs what it did, and no waiter waits much longer than the starvation limit plus the
/// queue ahead of it. The mutex alone decides ownership, so a holder's death is EOWNERDEAD as
/// before. A ticket whose owner died waiting (or that garbage put in the words) stalls the queue
/// only until a waiter sees `serving` unchanged for `stallNanoseconds` and moves it to its own
/// ticket; a waiter whose ticket was passed goes straight to the mutex.
///
/// A sequence word makes the lock a seqlock for readers that do not take it: it is odd from
/// the moment a locker holds the mutex until just before it unlocks, so a reader that saw the
/// same even value before and after its reads saw no locker's writes (every mutation of the
/// segment is made under this lock). A holder that dies leaves it odd until the next locker,
/// which repairs the segment, unlocks.
struct RobustMutex {
    let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let next: UnsafeMutablePointer<Atomic<UInt64>>
    private let serving: UnsafeMutablePointer<Atomic<UInt64>>
    private let sequence: UnsafeMutablePointer<Atomic<UInt64>>
    /// How long a locker waits for a live holder before giving up with an error.
    static let timeoutSeconds = 10
    /// How long the ticket being served may keep the queue still before waiters pass it.
    static let stallNanoseconds: Int64 = 50_000_000
    /// How long a locker competes for the mutex before it queues.
    static let starvingNanoseconds: Int64 = 1_000_000
    /// How long a queued waiter yields without progress before it naps instead.
    static let napAfterNanoseconds: Int64 = 2_000_000
    /// Loads of the lock word between attempts: a map operation holds the lock ~100 ns.
    static let spins = 400
    static let second: Int64 = 1_000_000_000

    init(_ header: Header) {
        mutex = (header.base + Header.mutexAt).assumingMemoryBound(to: pthread_mutex_t.self)
        next = header.base.atomic64(Header.queueNextAt)
        serving = header.base.atomic64(Header.queueServingAt)
        sequence = header.base.atomic64(Header.lockSequenceAt)
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
        guard result == 0 else { return slowLock(result) }
        beginWrites()
        return .acquired
    }

    /// Makes the sequence odd (a dead holder may have left it so) before the holder writes.
    @inline(__always) private func beginWrites() {
        let current = sequence.pointee.load(ordering: .relaxed)
        if current & 1 == 0 { sequence.pointee.store(current &+ 1, ordering: .relaxed) }
        atomicMemoryFence(ordering: .acquiringAndReleasing)
    }

    /// The sequence if no locker holds the lock: what `unchanged(since:)` compares with.
    @inline(__always) func stableSequence() -> UInt64? {
        let current = sequence.pointee.load(ordering: .acquiring)
        return current & 1 == 0 ? current : nil
    }

    /// The sequence word's address, for generated code that reads on the sequence as
    /// `stableSequence` and `unchanged(since:)` do (`HashValueLayout`).
    var sequenceAddress: UnsafeMutableRawPointer { UnsafeMutableRawPointer(sequence) }

    /// Whether no locker wrote since `stableSequence()` returned `seen`: the reads between are valid.
    @inline(__always) func unchanged(since seen: UInt64) -> Bool {
        atomicMemoryFence(ordering: .acquiring)
        return sequence.pointee.load(ordering: .relaxed) == seen
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
        let start = Self.now()
        let giveUpAt = start + Int64(Self.timeoutSeconds) * Self.second
        // Compete while nobody queues: spin, then sleep in the mutex (woken by each unlock).
        while Self.now() - start < Self.starvingNanoseconds {
            guard queueIsEmpty else {
                sched_yield()
                continue
            }
            var result = spinOnMutex { queueIsEmpty }
            if result == EBUSY && queueIsEmpty {
                var deadline = Self.realtime(in: start + Self.starvingNanoseconds - Self.now())
                result = pthread_mutex_timedlock(mutex, &deadline)
            }
            if result != EBUSY && result != ETIMEDOUT { return outcome(result) }
        }
        // Starving: queue, and take the mutex in turn.
        let ticket = next.pointee.wrappingAdd(1, ordering: .acquiringAndReleasing).oldValue
        waitForTurn(ticket, giveUpAt: giveUpAt)
        var result: Int32
        repeat {
            result = spinOnMutex { true }
            if result == EBUSY {
                var deadline = Self.realtime(in: min(Self.starvingNanoseconds, giveUpAt - Self.now()))
                result = pthread_mutex_timedlock(mutex, &deadline)
            }
        } while result == ETIMEDOUT && Self.now() < giveUpAt
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
    /// or at `giveUpAt` (monotonic nanoseconds). Spins, then yields (a turn usually comes within
    /// microseconds, and a waiter that sleeps when it comes holds up everyone behind it), and
    /// sleeps in short naps only once the wait is long (a long holder or a stall).
    private func waitForTurn(_ ticket: UInt64, giveUpAt: Int64) {
        var seen = serving.pointee.load(ordering: .acquiring)
        var stillSince = Self.now()
        var round = 0
        while Int64(bitPattern: seen &- ticket) < 0 {
            round += 1
            var now = stillSince
            if round > Self.spins {
                now = Self.now()
                if now > giveUpAt { return }
                if now - stillSince < Self.napAfterNanoseconds {
                    sched_yield()
                } else {
                    var nap = timespec(tv_sec: 0, tv_nsec: 50_000)
                    nanosleep(&nap, nil)
                }
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
        return Int64(t.tv_sec) * second + Int64(t.tv_nsec)
    }

    /// The CLOCK_REALTIME time `nanoseconds` from now, as pthread_mutex_timedlock takes it.
    private static func realtime(in nanoseconds: Int64) -> timespec {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        let total = Int64(t.tv_sec) * second + Int64(t.tv_nsec) + max(0, nanoseconds)
        return timespec(tv_sec: Int(total / second), tv_nsec: Int(total % second))
    }

    private func outcome(_ result: Int32) -> Outcome {
        if result == 0 || result == EOWNERDEAD { beginWrites() }
        switch result {
        case 0: return .acquired
        case EOWNERDEAD: return .acquiredFromDeadOwner
        case ETIMEDOUT: return .timedOut
        case ENOTRECOVERABLE: return .unrecoverable
        default: return .failed(result)
        }
    }

    func markConsistent() { pthread_mutex_consistent(mutex) }
    @inline(__always) func unlock() {
        // Only the holder writes the sequence, so no read-modify-write is needed.
        sequence.pointee.store(sequence.pointee.load(ordering: .relaxed) &+ 1, ordering: .releasing)
        pthread_mutex_unlock(mutex)
    }
}

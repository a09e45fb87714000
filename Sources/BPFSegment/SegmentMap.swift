import BPFModel
import Glibc

/// Fast access to one map. Results are kernel-style (0 or a negative errno) so that a VM
/// helper can hand them to a program. Operations take the segment lock, except array and
/// percpu_array lookups, which only compute a pointer, and hash lookups, which take it only
/// when a locker wrote while they read. Pointers returned point into the
/// segment and stay valid as long as this value (and so the mapping) lives.
/// A class, so that helper calls reach it without copying it.
public final class SegmentMap {
    public let fd: Int
    public let attributes: MapAttributes
    public let kind: MapKind?
    public let keySize: Int
    public let valueSize: Int
    /// The segment's CPU count (possible CPUs, fixed at creation): valid `cpu` arguments.
    public let cpuCount: Int
    /// Values per entry, as `MapContents` counts them: `cpuCount` for per-CPU maps, else 1.
    public let valuesPerEntry: Int

    /// Keeps the mapping alive; the hot path uses the plain copies below, so that it does
    /// no reference counting (an atomic instruction per use).
    let segment: Segment
    let mutex: RobustMutex
    let header: Header
    let store: MapStore?
    /// `store`, borrowed without retain/release on the hot paths (`store` keeps it alive).
    private let borrowedStore: Unmanaged<MapStore>?
    let serial: UInt64
    /// True for a map handed out by a `SegmentTransaction`: the caller already holds the lock,
    /// so operations neither take nor release it (the lock is not recursive).
    let lockHeld: Bool
    /// Lookups that only read shared state: plain hash kinds, outside a transaction (whose
    /// holder keeps the sequence odd), in a segment whose every locker keeps the sequence.
    private let readsWithoutLock: Bool

    init(fd: Int, attributes: MapAttributes, segment: Segment, store: MapStore?, lockHeld: Bool = false) {
        self.fd = fd
        self.attributes = attributes
        self.kind = attributes.kind
        self.keySize = Int(attributes.keySize)
        self.valueSize = Int(attributes.valueSize)
        self.cpuCount = segment.header.cpuCount
        self.valuesPerEntry = store?.layout.cpus ?? 1
        self.segment = segment
        self.mutex = segment.mutex
        self.header = segment.header
        self.store = store
        self.borrowedStore = store.map { Unmanaged.passUnretained($0) }
        self.serial = store?.layout.serial ?? 0
        self.lockHeld = lockHeld
        self.readsWithoutLock = !lockHeld && segment.header.lockersKeepSequence
            && (kind == .hash || kind == .percpuHash || kind == .stackTrace)
    }

    /// The bytes one userspace value holds: every CPU's value, packed, for per-CPU maps.
    public var userValueSize: Int { valueSize * valuesPerEntry }

    /// Entries held: hash and queue/stack entries, every index of an array, occupied
    /// prog_array slots, submitted ringbuf records not yet consumed; 0 for maps without data.
    public var count: Int {
        read(0) { store in
            switch store.layout.kind {
            case .array, .percpuArray: store.maxEntries
            case .progArray: (0..<store.maxEntries).count { store.arraySlot($0).u32(0) != MapStore.emptyProgramSlot }
            case .ringbuf: store.readRecords(limit: .max, consume: false).count
            default: store.boundedCount
            }
        }
    }

    /// False once the map was removed or replaced: its storage no longer carries our serial.
    @inline(__always) func current(_ store: MapStore) -> Bool {
        store.base.u32(store.storage) == MapLayout.magic && store.base.u64(store.storage &+ 8) == serial
    }

    @inline(__always) func lock() -> Bool {
        if lockHeld { return true }
        let outcome = mutex.lock()
        if case .acquired = outcome { return true }
        return segment.settleMapLock(outcome)
    }

    @inline(__always) func unlock() {
        if !lockHeld { mutex.unlock() }
    }

    /// Runs a mutation under the lock, then commits the journal and bumps the generation.
    /// `fromUserspace`: refused with -EPERM once the map is frozen (programs still write).
    @inline(__always) func mutate(fromUserspace: Bool = false, _ body: (MapStore) -> Int32) -> Int32 {
        guard let borrowedStore else { return -EOPNOTSUPP }
        return borrowedStore._withUnsafeGuaranteedRef { store in
            guard lock() else { return -EBUSY }
            defer { unlock() }
            guard current(store) else { return -ESTALE }
            if fromUserspace, store.isFrozen { return -EPERM }
            let result = body(store)
            store.journal.commit()
            if result == 0 { header.bumpGeneration() }
            return result
        }
    }

    @inline(__always) private func read<T>(_ failure: T, _ body: (MapStore) -> T) -> T {
        guard let borrowedStore else { return failure }
        return borrowedStore._withUnsafeGuaranteedRef { store in
            guard lock() else { return failure }
            defer { unlock() }
            guard current(store) else { return failure }
            return body(store)
        }
    }

    /// A pointer to the value (the CPU's slot for per-CPU maps), or nil if absent. The pointer is
    /// a program's to write through, so handing it out marks the map as written by a program
    /// (`SegmentTransaction.programWrittenMaps`); a prog_array's slots are not written that way.
    @inline(__always)
    public func lookup(_ key: UnsafeRawPointer, cpu: Int = 0) -> UnsafeMutableRawPointer? {
        if kind == .array || kind == .percpuArray {
            return borrowedStore?._withUnsafeGuaranteedRef { current($0) ? handOut($0.lookup(key, cpu: cpu), $0, .sinceTaken) : nil }
        }
        // Hash lookups walk chains that updates rewrite: first without the lock, then under it
        // if a locker wrote meanwhile. LRU lookups also mark the entry, so they always lock.
        if readsWithoutLock, let found = borrowedStore?._withUnsafeGuaranteedRef({ lookupWithoutLock($0, key, cpu: cpu) }) {
            return found
        }
        return read(nil) { handOut($0.lookup(key, cpu: cpu), $0, kind == .progArray ? .clean : .sinceTaken) }
    }

    /// The lookup on the lock's sequence (`RobustMutex`): nil when a locker held the lock or
    /// wrote during both tries. Torn reads stay inside the map's storage (chain indexes are
    /// bounds-checked, walks bounded), and their result is dropped.
    @inline(never)
    private func lookupWithoutLock(_ store: MapStore, _ key: UnsafeRawPointer, cpu: Int) -> UnsafeMutableRawPointer?? {
        guard let slotCPU = store.slot(forCPU: cpu) else { return .some(nil) }
        return onSequence { current(store) ? store.hashLookup(key, cpu: slotCPU) : nil }.map { handOut($0, store, .sinceTaken) }
    }

    /// `body`'s result when no locker held the lock or wrote while it ran, in one of two tries;
    /// nil otherwise. `body` only reads, and must stay inside the map's storage on torn reads.
    @inline(__always) func onSequence<T>(_ body: () -> T) -> T? {
        for _ in 0..<2 {
            guard let seen = mutex.stableSequence() else { return nil }
            let result = body()
            if mutex.unchanged(since: seen) { return result }
        }
        return nil
    }

    /// `body` on the map's storage without the lock (see `onSequence`), for the kinds whose
    /// lookups may; nil when it could not, or when the map is gone.
    func withoutLock<T>(_ body: (MapStore) -> T) -> T? {
        guard readsWithoutLock, let borrowedStore else { return nil }
        return borrowedStore._withUnsafeGuaranteedRef { store in onSequence { current(store) ? body(store) : nil } ?? nil }
    }

    /// Where an array or percpu_array map's values lie, for the JIT's inline lookup, which
    /// mirrors `lookup` above: the same `current` test, index and CPU bounds, and program-write
    /// mark. `nil` for other kinds.
    public var arrayValueLayout: ArrayValueLayout? {
        guard kind == .array || kind == .percpuArray, let store else { return nil }
        func address(_ pointer: UnsafeMutableRawPointer) -> UInt64 { UInt64(UInt(bitPattern: pointer)) }
        return ArrayValueLayout(entries: address(store.entries), entryStride: store.entryStride,
                                cpuStride: store.layout.valueStride, maxEntries: store.maxEntries, cpus: store.layout.cpus,
                                identity: address(store.base + store.storage), magic: MapLayout.magic, serial: serial,
                                programWriteMark: address(store.programWrites.word))
    }

    /// Where a plain hash map's entries lie, for the JIT's inline lookup, which mirrors
    /// `lookupWithoutLock`: the same sequence window, `current` test, bounded walk and program-write
    /// mark. `nil` for other kinds, for maps whose lookups take the lock (see `readsWithoutLock`)
    /// and for keys other than 4 or 8 bytes.
    public var hashValueLayout: HashValueLayout? {
        guard kind == .hash, readsWithoutLock, keySize == 4 || keySize == 8, let store,
              let mask = UInt32(exactly: store.bucketMask) else { return nil }
        func address(_ pointer: UnsafeMutableRawPointer) -> UInt64 { UInt64(UInt(bitPattern: pointer)) }
        return HashValueLayout(buckets: address(store.buckets), bucketMask: mask, entries: address(store.entries),
                               entryStride: store.entryStride, keySize: keySize, keyOffset: store.keyOffset,
                               valueOffset: store.valueOffset, maxEntries: store.maxEntries,
                               sequence: address(mutex.sequenceAddress), identity: address(store.base + store.storage),
                               magic: MapLayout.magic, serial: serial, programWriteMark: address(store.programWrites.word))
    }

    /// An array map's value at index 0 as a program's global data (`lddw` of a map value): the
    /// program keeps the pointer and writes through it for its whole life, so the map stays
    /// marked as written by programs.
    public func globalData() -> UnsafeMutableRawPointer? {
        guard kind == .array else { return nil }
        var zero: UInt32 = 0
        return borrowedStore?._withUnsafeGuaranteedRef { current($0) ? handOut($0.lookup(&zero, cpu: 0), $0, .always) : nil }
    }

    @inline(__always)
    private func handOut(_ value: UnsafeMutableRawPointer?, _ store: MapStore, _ mark: ProgramWriteMark.Level) -> UnsafeMutableRawPointer? {
        if value != nil { store.programWrites.raise(to: mark) }
        return value
    }

    /// BPF_ANY 0, BPF_NOEXIST 1, BPF_EXIST 2. `cpu == nil`: `value` holds every CPU's value
    /// (userspace semantics); `cpu == n`: only that CPU's slot is written (program semantics).
    /// A prog_array slot takes only a program's fd (-EINVAL otherwise, as the kernel's
    /// prog_fd_array_get_ptr), checked under the same hold of the lock as the write.
    @inline(__always)
    public func update(_ key: UnsafeRawPointer, _ value: UnsafeRawPointer, flags: UInt64, cpu: Int? = nil) -> Int32 {
        mutate { write($0, key, value, flags: flags, cpu: cpu) }
    }

    @inline(__always)
    func write(_ store: MapStore, _ key: UnsafeRawPointer, _ value: UnsafeRawPointer, flags: UInt64, cpu: Int?) -> Int32 {
        if kind == .progArray, !holdsProgram(Int(value.loadUnaligned(as: UInt32.self))) { return -EINVAL }
        return store.update(key, value, flags: flags, cpu: cpu)
    }

    /// Whether `fd` holds a program; the caller holds the lock.
    func holdsProgram(_ fd: Int) -> Bool {
        fd < header.maxHandlers && (try? segment.table.record(fd))??.kind == .program
    }

    public func delete(_ key: UnsafeRawPointer) -> Int32 {
        mutate { $0.delete(key) }
    }

    /// The key after `key`; the first key when `key` is nil or absent; -ENOENT after the last.
    public func nextKey(after key: UnsafeRawPointer?, into out: UnsafeMutableRawPointer) -> Int32 {
        read(-EOPNOTSUPP) { $0.nextKey(after: key, into: out) }
    }

    // MARK: queue and stack

    /// Flags 0, or BPF_EXIST to drop the oldest value when full.
    public func push(_ value: UnsafeRawPointer, flags: UInt64) -> Int32 {
        guard kind?.isSequence == true else { return -EINVAL }
        return mutate { $0.push(value, flags: flags) }
    }

    public func pop(into out: UnsafeMutableRawPointer) -> Int32 {
        guard kind?.isSequence == true else { return -EINVAL }
        return mutate { $0.take(into: out, remove: true) }
    }

    public func peek(into out: UnsafeMutableRawPointer) -> Int32 {
        guard kind?.isSequence == true else { return -EINVAL }
        return read(-EOPNOTSUPP) { $0.take(into: out, remove: false) }
    }

    // MARK: ringbuf

    /// Room for a record of `size` bytes; nil when the ring is full. Submit or discard it.
    public func reserve(_ size: Int) -> UnsafeMutableRawPointer? {
        guard kind == .ringbuf else { return nil }
        var slot: UnsafeMutableRawPointer?
        _ = mutate { store in
            slot = store.reserve(size)
            return slot == nil ? -EAGAIN : 0
        }
        return slot
    }

    @discardableResult public func submit(_ data: UnsafeMutableRawPointer) -> Int32 {
        guard kind == .ringbuf else { return -EINVAL }
        return mutate { $0.finish(data, discard: false) }
    }

    @discardableResult public func discard(_ data: UnsafeMutableRawPointer) -> Int32 {
        guard kind == .ringbuf else { return -EINVAL }
        return mutate { $0.finish(data, discard: true) }
    }

    /// `bpf_ringbuf_output`: copies `size` bytes in as one record; -EAGAIN when full.
    public func output(_ data: UnsafeRawPointer, size: Int) -> Int32 {
        guard kind == .ringbuf else { return -EINVAL }
        return mutate { $0.output(data, size: size) }
    }

    /// `bpf_perf_event_output` of a perf_event_array: `size` bytes as one record in the ring of
    /// `index` (a CPU); see `MapStore.perfOutput`.
    public func perfEventOutput(index: Int, _ data: UnsafeRawPointer, size: Int) -> Int32 {
        guard kind == .perfEventArray else { return -EINVAL }
        return mutate { $0.perfOutput(index: index, data, size: size) }
    }

    /// `bpf_ringbuf_query`: 0 available data, 1 ring size, 2 consumer, 3 producer position.
    public func query(_ flags: UInt64) -> UInt64 {
        guard kind == .ringbuf else { return 0 }
        return read(0) { $0.query(flags) }
    }
}

/// Every operation takes the segment lock, only computes a pointer, or checks its reads against
/// the lock's sequence, so a map may be used from any thread.
extension SegmentMap: @unchecked Sendable {}

/// The fixed header at offset 0. Every other structure is found through offsets stored here.
///
/// Layout version 3 (version 2 is the same bytes, but its hash maps have half the buckets, which
/// builds that write it expect; version 1 is version 2 written by builds whose lockers did not
/// keep the lock sequence, so its lookups take the lock):
/// ```
///   0 magic            8 layout version (u32), header size (u32)
///  16 total size      24 max handlers     32 cpu count (u32)
///  40 generation      48 table generation 56 handler count
///  64 table offset    72 journal offset   80 journal capacity  88 heap offset
///  96 used bytes     104 intent offset   112 journal length   120 map serial counter
/// 128 recoveries     136 instance (random, set at creation; 0 in segments made before it)
/// 144 lock sequence (odd while the lock is held; 0 in segments made before it)
/// 192 robust mutex (48 bytes reserved)  240 lock queue: next ticket  248 ticket being served
/// 256 free-list heads, one per power-of-two size class (64 * 8 bytes)
/// ```
struct Header {
    static let magic: UInt64 = 0x3154_4657_5346_5042 // "BPFSWFT1" read as little-endian bytes
    static let layoutVersion: UInt32 = 3
    /// Versions `Segment.open` accepts. Builds that write version 1 refuse versions 2 and 3, so a
    /// segment made here never has a locker that leaves the sequence alone; builds that write
    /// version 2 refuse version 3, so they never meet a hash map with doubled buckets.
    static let readableVersions: ClosedRange<UInt32> = 1...layoutVersion
    static let size = 4096

    static let magicAt = 0, versionAt = 8, headerSizeAt = 12, totalSizeAt = 16, maxHandlersAt = 24
    static let cpuCountAt = 32, generationAt = 40, tableGenerationAt = 48, handlerCountAt = 56
    static let tableAt = 64, journalAt = 72, journalCapacityAt = 80, heapAt = 88, usedBytesAt = 96
    static let intentAt = 104, journalLengthAt = 112, mapSerialAt = 120, recoveriesAt = 128
    static let instanceAt = 136
    /// `RobustMutex`'s sequence word, read by lookups that do not take the lock.
    static let lockSequenceAt = 144
    static let mutexAt = 192, freeListsAt = 256, freeListCount = 64
    /// The fair lock's ticket words (`RobustMutex`), in the mutex's cache line; zero in a fresh segment.
    static let queueNextAt = 240, queueServingAt = 248

    let base: UnsafeMutableRawPointer

    var totalSize: Int { base.offset(Self.totalSizeAt) }
    var maxHandlers: Int { base.offset(Self.maxHandlersAt) }
    var cpuCount: Int { Int(base.u32(Self.cpuCountAt)) }
    /// Whether every locker moves the lock sequence, so that lookups may read without the lock:
    /// not in a version 1 segment, which a build that does not may have open.
    var lockersKeepSequence: Bool { base.u32(Self.versionAt) >= 2 }
    /// The buckets of hash maps made here: doubled from version 3 on; in older segments, the
    /// count that the builds writing them (which may have them open) can read.
    var hashBuckets: MapLayout.BucketSizing { base.u32(Self.versionAt) >= 3 ? .double : .single }
    var tableOffset: Int { base.offset(Self.tableAt) }
    var journalOffset: Int { base.offset(Self.journalAt) }
    var journalCapacity: Int { base.offset(Self.journalCapacityAt) }
    var heapOffset: Int { base.offset(Self.heapAt) }

    var handlerCount: Int {
        get { base.offset(Self.handlerCountAt) }
        nonmutating set { base.set64(Self.handlerCountAt, UInt64(truncatingIfNeeded: newValue)) }
    }
    var usedBytes: Int {
        get { base.offset(Self.usedBytesAt) }
        nonmutating set { base.set64(Self.usedBytesAt, UInt64(truncatingIfNeeded: newValue)) }
    }
    var intent: Int {
        get { base.offset(Self.intentAt) }
        nonmutating set { base.set64(Self.intentAt, UInt64(truncatingIfNeeded: newValue)) }
    }

    var generation: UInt64 { base.atomic64(Self.generationAt).pointee.load(ordering: .acquiring) }
    var tableGeneration: UInt64 { base.atomic64(Self.tableGenerationAt).pointee.load(ordering: .acquiring) }

    /// Called under the lock only, so a plain increment published with release is enough.
    @inline(__always) func bumpGeneration() {
        let counter = base.atomic64(Self.generationAt)
        counter.pointee.store(counter.pointee.load(ordering: .relaxed) &+ 1, ordering: .releasing)
    }
    func bumpTableGeneration() {
        let counter = base.atomic64(Self.tableGenerationAt)
        counter.pointee.store(counter.pointee.load(ordering: .relaxed) &+ 1, ordering: .releasing)
        bumpGeneration()
    }

    func nextMapSerial() -> UInt64 {
        let serial = base.u64(Self.mapSerialAt) &+ 1
        base.set64(Self.mapSerialAt, serial)
        return serial
    }

    /// Tells this segment from an earlier one of the same name, whose generations restart.
    var instance: UInt64 { base.u64(Self.instanceAt) }

    var recoveries: UInt64 {
        get { base.u64(Self.recoveriesAt) }
        nonmutating set { base.set64(Self.recoveriesAt, newValue) }
    }

    /// Problems with the fixed fields, checked before anything else is trusted.
    func layoutProblems(mappedBytes: Int) -> [String] {
        var problems: [String] = []
        let total = totalSize, table = tableOffset, max = maxHandlers
        let journal = journalOffset, capacity = journalCapacity, heap = heapOffset
        if Int(base.u32(Self.headerSizeAt)) != Self.size { problems.append("header size \(base.u32(Self.headerSizeAt)) is not \(Self.size)") }
        if total != mappedBytes { problems.append("header size field \(total) differs from the mapped size \(mappedBytes)") }
        if cpuCount < 1 || cpuCount > 4096 { problems.append("cpu count \(cpuCount) is out of range") }
        if max < 1 || max > 1 << 24 { problems.append("max handlers \(max) is out of range") }
        if table != Self.size { problems.append("table offset \(table) is not \(Self.size)") }
        if max >= 1, max <= 1 << 24, journal != table + max * 8 { problems.append("journal offset \(journal) does not follow the table") }
        if capacity < 4096 || capacity > total { problems.append("journal capacity \(capacity) is out of range") }
        if heap != roundUp(journal &+ capacity, 4096) || heap >= total || heap < 0 { problems.append("heap offset \(heap) is out of range") }
        return problems
    }
}

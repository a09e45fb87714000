import BPFModel

/// Why attributes admit no storage, in words for the user.
struct LayoutProblem: Error {
    let text: String
    init(_ text: String) { self.text = text }
}

/// Where a map's data lives inside its storage block, fixed when the map is created.
///
/// Storage block: magic (u32), linux type (u32), serial (u64), key size, value size,
/// max entries, values per entry (u32 each), value stride, entry stride, bucket count,
/// buckets offset, entries offset, total bytes (u64 each); at 128 the mutable state
/// (count, free head / queue head, next unused entry, LRU head, LRU tail, ringbuf consumer and
/// producer positions); at 184 the frozen word (`bpftimetool map freeze`: nonzero refuses
/// userspace writes, as the kernel's map->frozen); at 188 the program-written mark
/// (`ProgramWriteMark`); data from 256. A perf_event_array's data is one ring per CPU (`cpus`
/// of them), each its consumer and producer positions then `perfRingBytes` of records (see `Ring`).
struct MapLayout: Equatable {
    static let magic: UInt32 = 0x4450_414D // "MAPD"
    static let stateAt = 128, stateBytes = 56, dataAt = 256
    static let countAt = 128, headAt = 136, nextUnusedAt = 144, lruHeadAt = 152, lruTailAt = 160
    static let consumerAt = 168, producerAt = 176, frozenAt = 184, programWrittenAt = 188
    /// Each CPU's ring of a perf_event_array (a power of two).
    static let perfRingBytes = 16 << 10

    var kind: MapKind
    var storage: Int
    var serial: UInt64
    var keySize: Int
    var valueSize: Int
    var maxEntries: Int
    /// One value per possible CPU for per-CPU maps, else 1.
    var cpus: Int
    /// Each CPU's value starts on an 8-byte boundary, as the kernel lays them out.
    var valueStride: Int
    var entryStride: Int
    var bucketCount: Int
    var bucketsAt: Int
    var entriesAt: Int
    var totalBytes: Int
    /// Hash entries: chain next (1-based index, 0 = none), flags, and for LRU maps the
    /// recency links; then the key, then the values on an 8-byte boundary.
    var keyOffsetInEntry = 0
    var valueOffsetInEntry = 0

    var entryValueBytes: Int { valueStride * cpus }

    /// How many chain heads a hash map gets, as a multiple of the next power of two >= max_entries.
    /// `.double` (maps made in layout version 3 segments): a full map's chains are half as long,
    /// so a lookup walks 1.24 entries on average instead of 1.48, for 4 bytes per added bucket
    /// (4 MiB more for a 1M-entry map).
    /// `.single` (the kernel's count): maps made in segments of earlier versions, which builds
    /// that know only this count may have open.
    enum BucketSizing: Int, CaseIterable { case double = 2, single = 1 }

    /// Plans the storage for `attributes`, or says why the attributes cannot work.
    static func plan(_ kind: MapKind, _ a: MapAttributes, cpuCount: Int, buckets: BucketSizing) -> Result<MapLayout, LayoutProblem> {
        let key = Int(a.keySize), value = Int(a.valueSize), max = Int(a.maxEntries)
        let cpus = kind.isPerCPU ? cpuCount : 1
        var layout = MapLayout(kind: kind, storage: 0, serial: 0, keySize: key, valueSize: value, maxEntries: max, cpus: cpus,
                               valueStride: roundUp(value, 8), entryStride: 0, bucketCount: 0, bucketsAt: dataAt,
                               entriesAt: dataAt, totalBytes: dataAt)
        guard max > 0 else { return .failure(LayoutProblem("max_entries must be positive")) }
        switch kind {
        case .perfEventArray:
            // The records `bpf_perf_event_output` writes: one ring per possible CPU (at most
            // max_entries), each its positions then `perfRingBytes` of records.
            guard key == 4, value == 4 else { return .failure(LayoutProblem("a perf_event_array's key_size and value_size must be 4, got \(key) and \(value)")) }
            layout.cpus = min(max, cpuCount)
            layout.entryStride = 16 + perfRingBytes
        case .array, .percpuArray, .progArray:
            guard key == 4 else { return .failure(LayoutProblem("an array's key_size must be 4, got \(key)")) }
            guard value > 0 else { return .failure(LayoutProblem("value_size must be positive")) }
            if kind == .progArray, value != 4 { return .failure(LayoutProblem("a prog_array's value_size must be 4 (a program fd), got \(value)")) }
            layout.entryStride = layout.entryValueBytes
        case .hash, .percpuHash, .lruHash, .lruPercpuHash, .stackTrace:
            guard key > 0, value > 0 else { return .failure(LayoutProblem("key_size and value_size must be positive")) }
            if kind == .stackTrace, key != 4 || value % 8 != 0 {
                return .failure(LayoutProblem("a stack_trace map's key_size must be 4 and its value_size a multiple of 8, got \(key) and \(value)"))
            }
            let powerOfTwo = 1 << (Int.bitWidth - (max - 1).leadingZeroBitCount) // next power of two >= max (> 0)
            layout.bucketCount = powerOfTwo * buckets.rawValue
            layout.entriesAt = roundUp(dataAt + layout.bucketCount * 4, 64)
            layout.keyOffsetInEntry = kind == .lruHash || kind == .lruPercpuHash ? 16 : 8
            layout.valueOffsetInEntry = roundUp(layout.keyOffsetInEntry + key, 8)
            layout.entryStride = layout.valueOffsetInEntry + layout.entryValueBytes
        case .queue, .stack:
            guard key == 0 else { return .failure(LayoutProblem("a \(kind.rawValue) map's key_size must be 0, got \(key)")) }
            guard value > 0 else { return .failure(LayoutProblem("value_size must be positive")) }
            layout.entryStride = layout.valueStride
        case .ringbuf:
            guard key == 0, value == 0 else { return .failure(LayoutProblem("a ringbuf's key_size and value_size must be 0")) }
            guard max >= 16, max & (max - 1) == 0 else { return .failure(LayoutProblem("a ringbuf's max_entries (its byte size) must be a power of two >= 16, got \(max)")) }
            layout.entryStride = 1
        }
        guard let total = checkedSize([(kind == .perfEventArray ? layout.cpus : max, layout.entryStride)], plus: layout.entriesAt), total < Int(Int32.max) * 64 else {
            return .failure(LayoutProblem("\(max) entries of \(layout.entryStride) bytes do not fit any segment"))
        }
        layout.totalBytes = total
        return .success(layout)
    }

    /// Writes the storage header and empty state into a fresh block.
    func format(_ base: UnsafeMutableRawPointer) {
        let s = storage
        base.set32(s, Self.magic)
        base.set32(s + 4, kind.linuxType)
        base.set64(s + 8, serial)
        for (i, v) in [keySize, valueSize, maxEntries, cpus].enumerated() { base.set32(s + 16 + 4 * i, UInt32(v)) }
        for (i, v) in [valueStride, entryStride, bucketCount, bucketsAt, entriesAt, totalBytes].enumerated() { base.set64(s + 32 + 8 * i, UInt64(v)) }
        (base + s + Self.stateAt).initializeMemory(as: UInt8.self, repeating: 0, count: Self.dataAt - Self.stateAt)
        switch kind {
        case .hash, .percpuHash, .lruHash, .lruPercpuHash, .stackTrace:
            (base + s + bucketsAt).initializeMemory(as: UInt8.self, repeating: 0, count: bucketCount * 4)
            base.set64(s + Self.nextUnusedAt, 1)
        case .array, .percpuArray:
            (base + s + entriesAt).initializeMemory(as: UInt8.self, repeating: 0, count: maxEntries * entryStride)
        case .progArray:
            // Empty slots hold -1: no program (fd 0 is a valid fd).
            (base + s + entriesAt).initializeMemory(as: UInt8.self, repeating: 0xFF, count: maxEntries * entryStride)
        case .perfEventArray:
            for cpu in 0..<cpus { base.set64(s + entriesAt + cpu * entryStride, 0); base.set64(s + entriesAt + cpu * entryStride + 8, 0) }
        case .queue, .stack, .ringbuf:
            break
        }
    }

    /// Reads a layout back from a storage block, checking it against the map's attributes and
    /// the block's size so that later pointer arithmetic stays inside the block. A hash map's
    /// stored bucket count says which `BucketSizing` it was made with; either is read.
    static func read(_ base: UnsafeMutableRawPointer, storage s: Int, capacity: Int, kind: MapKind,
                     attributes: MapAttributes, cpuCount: Int) -> Result<MapLayout, LayoutProblem> {
        guard capacity >= dataAt else { return .failure(LayoutProblem("storage block of \(capacity) bytes is smaller than a map header")) }
        guard base.u32(s) == magic else { return .failure(LayoutProblem("storage block has no map magic")) }
        let plans = BucketSizing.allCases.compactMap { try? plan(kind, attributes, cpuCount: cpuCount, buckets: $0).get() }
        let storedBuckets = base.offset(s + 48)
        guard var expected = plans.first(where: { $0.bucketCount == storedBuckets }) ?? plans.first else {
            return .failure(LayoutProblem("attributes admit no storage"))
        }
        expected.storage = s
        expected.serial = base.u64(s + 8)
        var stored = expected
        stored.keySize = Int(base.u32(s + 16)); stored.valueSize = Int(base.u32(s + 20))
        stored.maxEntries = Int(base.u32(s + 24)); stored.cpus = Int(base.u32(s + 28))
        stored.valueStride = base.offset(s + 32); stored.entryStride = base.offset(s + 40)
        stored.bucketCount = storedBuckets; stored.bucketsAt = base.offset(s + 56)
        stored.entriesAt = base.offset(s + 64); stored.totalBytes = base.offset(s + 72)
        guard base.u32(s + 4) == kind.linuxType, stored == expected else {
            return .failure(LayoutProblem("storage header disagrees with the map's attributes"))
        }
        guard expected.totalBytes <= capacity else { return .failure(LayoutProblem("storage needs \(expected.totalBytes) bytes, its block holds \(capacity)")) }
        return .success(expected)
    }
}

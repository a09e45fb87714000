import BPFModel

/// A process-local `MapBackend`: maps in ordinary memory, for tests, benchmarks and programs run
/// without a segment. Value memory stays put while the backend lives (deleted values are kept
/// until it goes away), so pointers a program got from a lookup never dangle within a run.
public final class InMemoryMapBackend: MapBackend {
    /// Per-CPU maps keep this many copies of each value.
    public let cpuCount: Int

    /// A map key: up to 16 bytes inline (no allocation on lookups), the rest in an array.
    struct Key: Hashable {
        var head: (UInt64, UInt64) = (0, 0)
        var tail: [UInt8] = []

        init(_ key: UnsafeRawPointer, count: Int) {
            withUnsafeMutableBytes(of: &head) { $0.baseAddress!.copyMemory(from: key, byteCount: min(count, 16)) }
            if count > 16 { tail = Array(UnsafeRawBufferPointer(start: key + 16, count: count - 16)) }
        }

        init(_ bytes: [UInt8]) {
            self = bytes.withUnsafeBytes { Key($0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, count: $0.count) }
        }

        static func == (a: Key, b: Key) -> Bool { a.head == b.head && a.tail == b.tail }

        func hash(into hasher: inout Hasher) {
            hasher.combine(head.0)
            hasher.combine(head.1)
            if !tail.isEmpty { hasher.combine(tail) }
        }
    }

    final class Storage {
        let info: MapInfo
        var entries: [Key: UnsafeMutableRawPointer] = [:]
        var sequence: [[UInt8]] = []
        var programs: [UInt32: Program] = [:]
        var records: [[UInt8]] = []
        init(info: MapInfo) { self.info = info }
    }

    var maps: [Int32: Storage] = [:]
    /// Value memory allocated so far, released in `deinit`.
    var allocations: [UnsafeMutableRawPointer] = []
    /// Reserved ring-buffer records: their map and size.
    var reservations: [UnsafeMutableRawPointer: (fd: Int32, size: Int)] = [:]

    public init(cpuCount: Int = 4) {
        self.cpuCount = max(1, cpuCount)
    }

    deinit { allocations.forEach { $0.deallocate() } }

    /// Adds (or replaces) map `fd`. Array maps start with every value zeroed.
    public func addMap(fd: Int32, _ info: MapInfo) {
        let storage = Storage(info: info)
        maps[fd] = storage
        if info.kind == .array || info.kind == .percpuArray {
            for index in 0 ..< UInt32(info.maxEntries) {
                storage.entries[Key(Self.bytes(of: index))] = allocateValue(info)
            }
        }
    }

    /// Puts `program` at `index` of prog-array map `fd`.
    public func setProgram(_ program: Program?, at index: UInt32, in fd: Int32) {
        maps[fd]?.programs[index] = program
    }

    /// A copy of the value for `key` (CPU `cpu`'s for per-CPU maps).
    public func value(fd: Int32, key: [UInt8], cpu: Int = 0) -> [UInt8]? {
        guard let storage = maps[fd], let base = storage.entries[Key(key)] else { return nil }
        let start = base + valueOffset(storage.info, cpu: cpu)
        return Array(UnsafeRawBufferPointer(start: start, count: storage.info.valueSize))
    }

    /// The elements of queue/stack map `fd`, oldest first.
    public func elements(fd: Int32) -> [[UInt8]] { maps[fd]?.sequence ?? [] }

    /// The records submitted to ring buffer `fd`, in order.
    public func records(fd: Int32) -> [[UInt8]] { maps[fd]?.records ?? [] }

    static func bytes(of index: UInt32) -> [UInt8] { withUnsafeBytes(of: index.littleEndian, Array.init) }

    func allocateValue(_ info: MapInfo) -> UnsafeMutableRawPointer {
        let copies = info.kind.isPerCPU ? cpuCount : 1
        let size = max(1, info.valueSize * copies)
        let memory = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        allocations.append(memory)
        return memory
    }

    func valueOffset(_ info: MapInfo, cpu: Int) -> Int {
        info.kind.isPerCPU ? min(max(cpu, 0), cpuCount - 1) * info.valueSize : 0
    }

    // MARK: MapBackend

    public func map(fd: Int32) -> MapInfo? { maps[fd]?.info }

    public func globalValue(fd: Int32) -> UnsafeMutableRawBufferPointer? {
        guard let storage = maps[fd], storage.info.kind == .array,
              let value = storage.entries[Key(Self.bytes(of: 0))] else { return nil }
        return UnsafeMutableRawBufferPointer(start: value, count: storage.info.valueSize)
    }

    public func lookup(fd: Int32, key: UnsafeRawPointer, cpu: Int) -> UnsafeMutableRawPointer? {
        guard let storage = maps[fd] else { return nil }
        let k = Key(key, count: storage.info.keySize)
        return storage.entries[k].map { $0 + valueOffset(storage.info, cpu: cpu) }
    }

    public func update(fd: Int32, key: UnsafeRawPointer, value: UnsafeRawPointer, flags: UInt64, cpu: Int) -> Int32 {
        guard let storage = maps[fd], flags <= 2 else { return -22 }
        let info = storage.info
        let k = Key(key, count: info.keySize)
        let existing = storage.entries[k]
        if info.kind.isArray {
            guard existing != nil else { return -7 }          // E2BIG: index out of range
            if flags == 1 { return -17 }                      // NOEXIST: array entries always exist
        } else {
            if flags == 1 && existing != nil { return -17 }
            if flags == 2 && existing == nil { return -2 }
            if existing == nil && storage.entries.count >= info.maxEntries { return -7 }
        }
        let target = existing ?? allocateValue(info)
        (target + valueOffset(info, cpu: cpu)).copyMemory(from: value, byteCount: info.valueSize)
        storage.entries[k] = target
        return 0
    }

    public func delete(fd: Int32, key: UnsafeRawPointer) -> Int32 {
        guard let storage = maps[fd] else { return -22 }
        if storage.info.kind.isArray { return -22 }
        let k = Key(key, count: storage.info.keySize)
        return storage.entries.removeValue(forKey: k) == nil ? -2 : 0
    }

    public func push(fd: Int32, value: UnsafeRawPointer, flags: UInt64) -> Int32 {
        guard let storage = maps[fd] else { return -22 }
        let v = Array(UnsafeRawBufferPointer(start: value, count: storage.info.valueSize))
        if storage.sequence.count >= storage.info.maxEntries {
            guard flags == 2 else { return -7 }               // BPF_EXIST: make room
            storage.sequence.removeFirst()
        }
        storage.sequence.append(v)
        return 0
    }

    public func pop(fd: Int32, into value: UnsafeMutableRawPointer) -> Int32 {
        take(fd: fd, into: value, remove: true)
    }

    public func peek(fd: Int32, into value: UnsafeMutableRawPointer) -> Int32 {
        take(fd: fd, into: value, remove: false)
    }

    /// Queues give their oldest element, stacks their newest.
    func take(fd: Int32, into value: UnsafeMutableRawPointer, remove: Bool) -> Int32 {
        guard let storage = maps[fd] else { return -22 }
        guard !storage.sequence.isEmpty else { return -2 }
        let index = storage.info.kind == .stack ? storage.sequence.count - 1 : 0
        storage.sequence[index].withUnsafeBytes { value.copyMemory(from: $0.baseAddress.unsafelyUnwrapped, byteCount: $0.count) }
        if remove { storage.sequence.remove(at: index) }
        return 0
    }

    public func ringbufOutput(fd: Int32, data: UnsafeRawPointer, size: Int, flags: UInt64) -> Int32 {
        guard let storage = maps[fd], used(storage) + size <= storage.info.maxEntries else { return -28 }
        storage.records.append(Array(UnsafeRawBufferPointer(start: data, count: size)))
        return 0
    }

    public func ringbufReserve(fd: Int32, size: Int) -> UnsafeMutableRawPointer? {
        guard let storage = maps[fd], used(storage) + size <= storage.info.maxEntries else { return nil }
        let record = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        record.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        reservations[record] = (fd, size)
        return record
    }

    public func ringbufSubmit(_ record: UnsafeMutableRawPointer) {
        guard let (fd, size) = reservations.removeValue(forKey: record) else { return }
        maps[fd]?.records.append(Array(UnsafeRawBufferPointer(start: record, count: size)))
        record.deallocate()
    }

    public func ringbufDiscard(_ record: UnsafeMutableRawPointer) {
        guard reservations.removeValue(forKey: record) != nil else { return }
        record.deallocate()
    }

    /// `BPF_RB_AVAIL_DATA` (0): bytes submitted; `BPF_RB_RING_SIZE` (1): capacity.
    public func ringbufQuery(fd: Int32, flags: UInt64) -> UInt64 {
        guard let storage = maps[fd] else { return 0 }
        switch flags {
        case 0: return UInt64(used(storage))
        case 1: return UInt64(storage.info.maxEntries)
        default: return 0
        }
    }

    func used(_ storage: Storage) -> Int { storage.records.reduce(0) { $0 + $1.count } }

    public func program(forTailCallIn fd: Int32, index: UInt32) -> Program? {
        maps[fd]?.programs[index]
    }
}

import BPFModel
import BPFRuntime
import BPFSegment
import BPFVM

/// Maps for VM tests: a private segment (anonymous memory, see `Segment.createPrivate`) served
/// by the runtime's `SegmentMapBackend`, so that programs under test run on exactly the map code
/// (semantics, errno values, LRU eviction) the shared segment runs.
public final class SegmentMaps: MapBackend {
    public let segment: Segment
    public let backend: SegmentMapBackend
    /// Ring-buffer records reserved and neither submitted nor discarded yet.
    public private(set) var reservations: Set<UnsafeMutableRawPointer> = []
    /// Calls of `lookup` (the helpers'), so that tests can tell an inline JIT lookup from a helper call.
    public private(set) var lookups = 0
    /// The next free fd for the programs of prog-array maps.
    private var nextProgramFD = 1000

    public init() {
        segment = try! Segment.createPrivate(SegmentConfiguration(name: "vm-test-maps", sizeBytes: 4 << 20, maxHandlers: 1100))
        backend = SegmentMapBackend(segment: segment)
    }

    /// Per-CPU maps keep this many copies of each value: the machine's possible CPUs.
    public var cpuCount: Int { segment.status().cpuCount }

    /// Adds map `fd` (array maps start with every value zeroed, as the kernel's).
    public func addMap(fd: Int32, _ info: MapInfo) {
        let attributes = MapAttributes(mapType: info.kind.linuxType, keySize: UInt32(info.keySize), valueSize: UInt32(info.valueSize),
                                       maxEntries: UInt32(info.maxEntries),
                                       flags: info.readOnly ? SegmentMapBackend.readOnlyForPrograms : 0)
        try! segment.apply([HandlerRecord(fd: Int(fd), handler: .map(MapHandler(name: "map\(fd)", attributes: attributes)))],
                           replaceExisting: true)
    }

    /// Puts `program` at `index` of prog-array map `fd` (a program handler of its own), or
    /// empties that slot.
    public func setProgram(_ program: Program?, at index: UInt32, in fd: Int32) {
        let map = try! segment.map(at: Int(fd))
        let key = withUnsafeBytes(of: index.littleEndian, Array.init)
        guard let program else {
            try? map.delete(key: key)
            return
        }
        let programFD = nextProgramFD
        nextProgramFD += 1
        try! segment.apply([HandlerRecord(fd: programFD, handler: .program(ProgramHandler(name: "tail\(programFD)", type: 0,
                                                                                           bytecode: program.bytecode)))])
        try! map.update(key: key, value: withUnsafeBytes(of: UInt32(programFD).littleEndian, Array.init))
    }

    /// A copy of the value for `key` (CPU `cpu`'s for per-CPU maps).
    public func value(fd: Int32, key: [UInt8], cpu: Int = 0) -> [UInt8]? {
        guard let map = try? segment.map(at: Int(fd)),
              let value = key.withUnsafeBytes({ map.lookup($0.baseAddress!, cpu: cpu) }) else { return nil }
        return Array(UnsafeRawBufferPointer(start: value, count: map.valueSize))
    }

    /// The elements of queue/stack map `fd`, oldest first.
    public func elements(fd: Int32) -> [[UInt8]] {
        guard let contents = try? segment.map(at: Int(fd)).contents() else { return [] }
        return (0 ..< contents.count).map { Array(contents.value(at: $0)) }
    }

    /// The records submitted to ring buffer `fd` and not consumed, in order.
    public func records(fd: Int32) -> [[UInt8]] { (try? segment.map(at: Int(fd)).ringbufRecords()) ?? [] }

    /// Every byte of the segment: maps, their bookkeeping, ring buffers.
    public func checkpoint() -> [UInt8] { Array(segment.allBytes) }

    /// Puts a checkpoint back, at the same addresses, so that pointers into values stay valid.
    public func restore(_ checkpoint: [UInt8]) {
        checkpoint.withUnsafeBytes { segment.allBytes.copyMemory(from: $0) }
    }

    /// The maps and their contents, as the segment reads them.
    public func contents() -> [HandlerRecord] { (try? segment.records(includeContents: true)) ?? [] }

    // MARK: MapBackend, served by the segment

    public func map(fd: Int32) -> MapInfo? { backend.map(fd: fd) }
    public func globalValue(fd: Int32) -> UnsafeMutableRawBufferPointer? { backend.globalValue(fd: fd) }
    public func lookup(fd: Int32, key: UnsafeRawPointer, cpu: Int) -> UnsafeMutableRawPointer? {
        lookups += 1
        return backend.lookup(fd: fd, key: key, cpu: cpu)
    }
    public func arrayValueLayout(fd: Int32) -> ArrayValueLayout? { backend.arrayValueLayout(fd: fd) }
    public func hashValueLayout(fd: Int32) -> HashValueLayout? { backend.hashValueLayout(fd: fd) }
    public func update(fd: Int32, key: UnsafeRawPointer, value: UnsafeRawPointer, flags: UInt64, cpu: Int) -> Int32 {
        backend.update(fd: fd, key: key, value: value, flags: flags, cpu: cpu)
    }
    public func delete(fd: Int32, key: UnsafeRawPointer) -> Int32 { backend.delete(fd: fd, key: key) }
    public func push(fd: Int32, value: UnsafeRawPointer, flags: UInt64) -> Int32 { backend.push(fd: fd, value: value, flags: flags) }
    public func pop(fd: Int32, into value: UnsafeMutableRawPointer) -> Int32 { backend.pop(fd: fd, into: value) }
    public func peek(fd: Int32, into value: UnsafeMutableRawPointer) -> Int32 { backend.peek(fd: fd, into: value) }
    public func ringbufOutput(fd: Int32, data: UnsafeRawPointer, size: Int, flags: UInt64) -> Int32 {
        backend.ringbufOutput(fd: fd, data: data, size: size, flags: flags)
    }
    public func perfEventOutput(fd: Int32, index: Int, data: UnsafeRawPointer, size: Int) -> Int32 {
        backend.perfEventOutput(fd: fd, index: index, data: data, size: size)
    }
    public func ringbufReserve(fd: Int32, size: Int) -> UnsafeMutableRawPointer? {
        let record = backend.ringbufReserve(fd: fd, size: size)
        if let record { reservations.insert(record) }
        return record
    }
    public func ringbufSubmit(_ record: UnsafeMutableRawPointer) {
        reservations.remove(record)
        backend.ringbufSubmit(record)
    }
    public func ringbufDiscard(_ record: UnsafeMutableRawPointer) {
        reservations.remove(record)
        backend.ringbufDiscard(record)
    }
    public func ringbufQuery(fd: Int32, flags: UInt64) -> UInt64 { backend.ringbufQuery(fd: fd, flags: flags) }
    public func program(forTailCallIn fd: Int32, index: UInt32) -> Program? { backend.program(forTailCallIn: fd, index: index) }
}

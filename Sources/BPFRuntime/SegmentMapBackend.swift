import BPFModel
import BPFSegment
import BPFVM
import Glibc

/// The VM's map helpers and `lddw` map loads, served by the shared-memory segment: programs
/// read and write the same maps every other process of the runtime sees.
public final class SegmentMapBackend: MapBackend {
    public let segment: Segment
    /// Maps by fd, opened once per run of the tool (a map replaced meanwhile reads as stale).
    /// Indexed by fd so that a helper call does not hash; `opened` keeps them alive, so the
    /// hot path borrows them without reference counting. Exempt from dynamic exclusivity checks,
    /// as the VM using this backend runs one program at a time: every map helper call reads `maps`.
    @exclusivity(unchecked) private var maps: [Unmanaged<SegmentMap>?] = []
    @exclusivity(unchecked) private var opened: [SegmentMap] = []
    @exclusivity(unchecked) private var reservedRecords: [UnsafeMutableRawPointer: SegmentMap] = [:]

    public init(segment: Segment) { self.segment = segment }

    @inline(__always)
    private func segmentMap(_ fd: Int32) -> SegmentMap? {
        let index = Int(fd)
        if index >= 0, index < maps.count, let map = maps[index] { return map.takeUnretainedValue() }
        return openMap(index)
    }

    /// Runs `body` on map `fd` without retaining it: every map helper call comes through here.
    @inline(__always)
    private func withMap<T>(_ fd: Int32, _ missing: T, _ body: (SegmentMap) -> T) -> T {
        let index = Int(fd)
        if index >= 0, index < maps.count, let map = maps[index] { return map._withUnsafeGuaranteedRef(body) }
        guard let map = openMap(index) else { return missing }
        return body(map)
    }

    private func openMap(_ fd: Int) -> SegmentMap? {
        guard fd >= 0, let map = try? segment.map(at: fd) else { return nil }
        if fd >= maps.count { maps += Array(repeating: nil, count: fd + 1 - maps.count) }
        opened.append(map)
        maps[fd] = Unmanaged.passUnretained(map)
        return map
    }

    /// `BPF_F_RDONLY_PROG`: the program may read the map's values but not write them.
    public static let readOnlyForPrograms: UInt64 = 1 << 7

    public func map(fd: Int32) -> MapInfo? {
        guard let map = segmentMap(fd), let kind = map.kind else { return nil }
        return MapInfo(kind: kind, keySize: map.keySize, valueSize: map.valueSize,
                       maxEntries: Int(map.attributes.maxEntries),
                       readOnly: map.attributes.flags & Self.readOnlyForPrograms != 0)
    }

    public func globalValue(fd: Int32) -> UnsafeMutableRawBufferPointer? {
        guard let map = segmentMap(fd), let value = map.globalData() else { return nil }
        return UnsafeMutableRawBufferPointer(start: value, count: map.valueSize)
    }

    public func lookup(fd: Int32, key: UnsafeRawPointer, cpu: Int) -> UnsafeMutableRawPointer? {
        withMap(fd, nil) { $0.lookup(key, cpu: cpu) }
    }

    public func update(fd: Int32, key: UnsafeRawPointer, value: UnsafeRawPointer, flags: UInt64, cpu: Int) -> Int32 {
        withMap(fd, -EBADF) { $0.update(key, value, flags: flags, cpu: cpu) }
    }

    public func delete(fd: Int32, key: UnsafeRawPointer) -> Int32 {
        withMap(fd, -EBADF) { $0.delete(key) }
    }

    public func push(fd: Int32, value: UnsafeRawPointer, flags: UInt64) -> Int32 {
        segmentMap(fd)?.push(value, flags: flags) ?? -EBADF
    }

    public func pop(fd: Int32, into value: UnsafeMutableRawPointer) -> Int32 {
        segmentMap(fd)?.pop(into: value) ?? -EBADF
    }

    public func peek(fd: Int32, into value: UnsafeMutableRawPointer) -> Int32 {
        segmentMap(fd)?.peek(into: value) ?? -EBADF
    }

    public func ringbufOutput(fd: Int32, data: UnsafeRawPointer, size: Int, flags: UInt64) -> Int32 {
        segmentMap(fd)?.output(data, size: size) ?? -EBADF
    }

    public func perfEventOutput(fd: Int32, index: Int, data: UnsafeRawPointer, size: Int) -> Int32 {
        segmentMap(fd)?.perfEventOutput(index: index, data, size: size) ?? -EBADF
    }

    public func ringbufReserve(fd: Int32, size: Int) -> UnsafeMutableRawPointer? {
        guard let map = segmentMap(fd), let record = map.reserve(size) else { return nil }
        reservedRecords[record] = map
        return record
    }

    public func ringbufSubmit(_ record: UnsafeMutableRawPointer) {
        reservedRecords.removeValue(forKey: record)?.submit(record)
    }

    public func ringbufDiscard(_ record: UnsafeMutableRawPointer) {
        reservedRecords.removeValue(forKey: record)?.discard(record)
    }

    public func ringbufQuery(fd: Int32, flags: UInt64) -> UInt64 {
        segmentMap(fd)?.query(flags) ?? 0
    }

    public func arrayValueLayout(fd: Int32) -> ArrayValueLayout? {
        segmentMap(fd)?.arrayValueLayout
    }

    public func hashValueLayout(fd: Int32) -> HashValueLayout? {
        segmentMap(fd)?.hashValueLayout
    }

    public func program(forTailCallIn fd: Int32, index: UInt32) -> Program? {
        guard let map = segmentMap(fd), map.kind == .progArray else { return nil }
        var key = index
        guard let slot = map.lookup(&key) else { return nil }
        let target = Int(slot.loadUnaligned(as: UInt32.self))
        guard case .program(let handler)? = try? segment.handler(at: target) else { return nil }
        return try? Program(bytecode: handler.bytecode)
    }
}

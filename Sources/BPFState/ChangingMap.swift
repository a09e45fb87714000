import BPFModel
import BPFSegment
import BPFSnapshots

/// A map inside a recorded change (`RuntimeState.changeMap`). Its writes go to the segment's
/// map as they would directly, and it remembers which keys they wrote, so that the change can
/// be recorded as those entries alone over the snapshot it started from.
public final class ChangingMap {
    let map: SegmentMap
    private var writtenKeys: [[UInt8]] = []
    /// False once an operation changed the map in a way its written keys do not describe (a
    /// push or pop renumbers a queue's positions).
    private var describedByKeys = true

    init(_ map: SegmentMap) {
        self.map = map
    }

    public var fd: Int { map.fd }
    public var keySize: Int { map.keySize }
    public var valueSize: Int { map.valueSize }
    /// Every CPU's value, packed, for per-CPU maps.
    public var userValueSize: Int { map.userValueSize }
    /// The CPU count for per-CPU maps, else 1.
    public var valuesPerEntry: Int { map.valuesPerEntry }

    public func lookup(key: [UInt8]) throws -> [UInt8]? { try map.lookup(key: key) }

    public func update(key: [UInt8], value: [UInt8], flags: UInt64 = 0) throws {
        try map.update(key: key, value: value, flags: flags)
        writtenKeys.append(key)
    }

    public func delete(key: [UInt8]) throws {
        try map.delete(key: key)
        writtenKeys.append(key)
    }

    public func push(value: [UInt8], flags: UInt64 = 0) throws {
        describedByKeys = false
        try map.push(value: value, flags: flags)
    }

    public func pop() throws -> [UInt8]? {
        describedByKeys = false
        return try map.pop()
    }

    /// Refuses the tool's later writes (`SegmentMap.freeze`); the freeze is not part of the
    /// map's contents, so it writes no entry.
    public func freeze() throws { try map.freeze() }

    /// The maps whose updates and deletes touch only the key given: not LRU maps (an update
    /// may evict another key), not queues, stacks or maps without data.
    private static let keyedKinds: Set<MapKind> = [.hash, .array, .percpuHash, .percpuArray]

    /// The entries written, with their values now (read under the change's lock); nil when
    /// the change is not described by them.
    func writes() throws -> MapEntryWrites? {
        guard describedByKeys, let kind = map.kind, Self.keyedKinds.contains(kind) else { return nil }
        return MapEntryWrites(fd: map.fd, entries: try writtenKeys.map { ($0, try map.lookup(key: $0)) })
    }
}

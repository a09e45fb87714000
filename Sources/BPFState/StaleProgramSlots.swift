import BPFModel
import BPFSegment

/// A prog_array slot, given in a document or a snapshot, that names an fd holding no program.
public struct StaleProgramSlot: Equatable, Sendable {
    /// The prog_array's fd.
    public var map: Int
    /// The slot index.
    public var index: UInt32
    /// The fd the slot names.
    public var program: Int
}

/// prog_array data from a file or a snapshot may name fds that will hold no program (bpftime's
/// files, snapshots recorded before `unload` emptied such slots). The segment refuses them
/// (`SegmentError.notAProgram`); where dangling references are allowed they are dropped
/// instead, as the kernel empties the slot of a program that goes away.
enum StaleProgramSlots {
    /// The slots of `records`' prog_arrays that name no program once `records` are applied
    /// over the table `current` with `removing` freed.
    static func find(in records: [HandlerRecord], removing: [Int] = [], current: [HandlerRecord]) -> [StaleProgramSlot] {
        var programs = Set(current.filter { $0.handler.kind == .program }.map(\.fd)).subtracting(removing)
        for record in records {
            if record.handler.kind == .program { programs.insert(record.fd) } else { programs.remove(record.fd) }
        }
        return records.flatMap { record -> [StaleProgramSlot] in
            guard case .map(let map) = record.handler, map.attributes.kind == .progArray, let contents = map.contents else { return [] }
            return contents.programSlots().filter { !programs.contains(Int($0.program)) }.map {
                StaleProgramSlot(map: record.fd, index: $0.index, program: Int($0.program))
            }
        }
    }

    /// `records` without the entries of `stale`.
    static func drop(_ stale: [StaleProgramSlot], from records: [HandlerRecord]) -> [HandlerRecord] {
        guard !stale.isEmpty else { return records }
        return records.map { record in
            let slots = Set(stale.filter { $0.map == record.fd }.map(\.index))
            guard !slots.isEmpty, case .map(var map) = record.handler, let contents = map.contents else { return record }
            let indices = Set(contents.programSlots().enumerated().filter { slots.contains($0.element.index) }.map(\.offset))
            map.contents = contents.removingEntries(indices)
            return HandlerRecord(fd: record.fd, handler: .map(map))
        }
    }
}

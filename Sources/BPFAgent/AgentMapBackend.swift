import BPFModel
import BPFRuntime
import BPFSegment
import BPFVM
import Glibc

/// The runtime's segment map backend with the hot operations (lookup, update, map info) served
/// from an fd-indexed table of opened maps: no hashing and no struct copy per helper call. The
/// agent builds a new backend whenever the handler table changes, so the table never goes stale
/// for long (a replaced map reads as absent until then, as in `SegmentMapBackend`).
final class AgentMapBackend: MapBackend {
    private let base: SegmentMapBackend
    /// Opened maps by fd, in memory of our own so that calls borrow them in place (an array of
    /// structs, or an optional, costs a copy per call; an array of class boxes a retain).
    /// `slots[fd]` is initialized where `isOpen[fd]`.
    private var slots: UnsafeMutablePointer<Slot>
    private var isOpen: UnsafeMutablePointer<Bool>
    private var capacity = 0

    struct Slot {
        var map: SegmentMap
        var info: MapInfo?
    }

    init(segment: Segment) {
        base = SegmentMapBackend(segment: segment)
        slots = .allocate(capacity: 0)
        isOpen = .allocate(capacity: 0)
    }

    deinit {
        for fd in 0 ..< capacity where isOpen[fd] { (slots + fd).deinitialize(count: 1) }
        slots.deallocate()
        isOpen.deallocate()
    }

    /// The index of the opened map at `fd` (opened on first use); nil when there is none.
    @inline(__always) private func ready(_ fd: Int32) -> Int? {
        let index = Int(fd)
        if index >= 0, index < capacity, isOpen[index] { return index }
        return open(index) ? index : nil
    }

    @inline(never) private func open(_ fd: Int) -> Bool {
        guard fd >= 0, fd < 1 << 24, let map = try? base.segment.map(at: fd) else { return false }
        if fd >= capacity {
            let grownSlots = UnsafeMutablePointer<Slot>.allocate(capacity: fd + 1)
            let grownOpen = UnsafeMutablePointer<Bool>.allocate(capacity: fd + 1)
            grownOpen.initialize(repeating: false, count: fd + 1)
            for i in 0 ..< capacity where isOpen[i] {
                (grownSlots + i).moveInitialize(from: slots + i, count: 1)
                grownOpen[i] = true
            }
            slots.deallocate()
            isOpen.deallocate()
            slots = grownSlots
            isOpen = grownOpen
            capacity = fd + 1
        }
        (slots + fd).initialize(to: Slot(map: map, info: base.map(fd: Int32(fd))))
        isOpen[fd] = true
        return true
    }

    func map(fd: Int32) -> MapInfo? {
        ready(fd).flatMap { slots[$0].info }
    }

    func lookup(fd: Int32, key: UnsafeRawPointer, cpu: Int) -> UnsafeMutableRawPointer? {
        guard let index = ready(fd) else { return nil }
        return slots[index].map.lookup(key, cpu: cpu)
    }

    func update(fd: Int32, key: UnsafeRawPointer, value: UnsafeRawPointer, flags: UInt64, cpu: Int) -> Int32 {
        guard let index = ready(fd) else { return -EBADF }
        return slots[index].map.update(key, value, flags: flags, cpu: cpu)
    }

    // The other operations are rare on hooks: the runtime's backend serves them.
    func globalValue(fd: Int32) -> UnsafeMutableRawBufferPointer? { base.globalValue(fd: fd) }
    func delete(fd: Int32, key: UnsafeRawPointer) -> Int32 { base.delete(fd: fd, key: key) }
    func push(fd: Int32, value: UnsafeRawPointer, flags: UInt64) -> Int32 { base.push(fd: fd, value: value, flags: flags) }
    func pop(fd: Int32, into value: UnsafeMutableRawPointer) -> Int32 { base.pop(fd: fd, into: value) }
    func peek(fd: Int32, into value: UnsafeMutableRawPointer) -> Int32 { base.peek(fd: fd, into: value) }
    func ringbufOutput(fd: Int32, data: UnsafeRawPointer, size: Int, flags: UInt64) -> Int32 {
        base.ringbufOutput(fd: fd, data: data, size: size, flags: flags)
    }
    func ringbufReserve(fd: Int32, size: Int) -> UnsafeMutableRawPointer? { base.ringbufReserve(fd: fd, size: size) }
    func ringbufSubmit(_ record: UnsafeMutableRawPointer) { base.ringbufSubmit(record) }
    func ringbufDiscard(_ record: UnsafeMutableRawPointer) { base.ringbufDiscard(record) }
    func ringbufQuery(fd: Int32, flags: UInt64) -> UInt64 { base.ringbufQuery(fd: fd, flags: flags) }
    func program(forTailCallIn fd: Int32, index: UInt32) -> Program? { base.program(forTailCallIn: fd, index: index) }
}

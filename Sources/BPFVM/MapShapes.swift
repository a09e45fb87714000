import Glibc

/// Maps known by their shapes only, without storage: what validating or compiling a program
/// needs (a map's sizes, the address of an array's global value), never map semantics. Every
/// map operation fails as on a missing map (`-EBADF`, nil): programs that use maps run on a
/// segment's maps (`SegmentMapBackend`, or a private segment). Empty, it is the maps of a VM
/// given none.
public final class MapShapes: MapBackend {
    private let shapes: [Int32: MapInfo]
    /// A zeroed value per array map, for `lddw src=2` (global variables).
    private let globals: [Int32: UnsafeMutableRawBufferPointer]

    public init(_ shapes: [Int32: MapInfo] = [:]) {
        self.shapes = shapes
        globals = shapes.filter { $0.value.kind == .array && $0.value.maxEntries > 0 }.mapValues { info in
            let value = UnsafeMutableRawBufferPointer.allocate(byteCount: max(info.valueSize, 1), alignment: 8)
            value.initializeMemory(as: UInt8.self, repeating: 0)
            return UnsafeMutableRawBufferPointer(rebasing: value[0 ..< info.valueSize])
        }
    }

    deinit { for value in globals.values { value.baseAddress.map { UnsafeMutableRawPointer(mutating: $0).deallocate() } } }

    public func map(fd: Int32) -> MapInfo? { shapes[fd] }
    public func globalValue(fd: Int32) -> UnsafeMutableRawBufferPointer? { globals[fd] }
    public func lookup(fd: Int32, key: UnsafeRawPointer, cpu: Int) -> UnsafeMutableRawPointer? { nil }
    public func update(fd: Int32, key: UnsafeRawPointer, value: UnsafeRawPointer, flags: UInt64, cpu: Int) -> Int32 { -EBADF }
    public func delete(fd: Int32, key: UnsafeRawPointer) -> Int32 { -EBADF }
    public func push(fd: Int32, value: UnsafeRawPointer, flags: UInt64) -> Int32 { -EBADF }
    public func pop(fd: Int32, into value: UnsafeMutableRawPointer) -> Int32 { -EBADF }
    public func peek(fd: Int32, into value: UnsafeMutableRawPointer) -> Int32 { -EBADF }
    public func ringbufOutput(fd: Int32, data: UnsafeRawPointer, size: Int, flags: UInt64) -> Int32 { -EBADF }
    public func ringbufReserve(fd: Int32, size: Int) -> UnsafeMutableRawPointer? { nil }
    public func ringbufSubmit(_ record: UnsafeMutableRawPointer) {}
    public func ringbufDiscard(_ record: UnsafeMutableRawPointer) {}
    public func ringbufQuery(fd: Int32, flags: UInt64) -> UInt64 { 0 }
    public func perfEventOutput(fd: Int32, index: Int, data: UnsafeRawPointer, size: Int) -> Int32 { -EBADF }
    public func program(forTailCallIn fd: Int32, index: UInt32) -> Program? { nil }
}

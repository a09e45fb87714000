import BPFModel

/// What the VM needs to know about a map to check helper arguments.
public struct MapInfo: Hashable, Sendable {
    public var kind: MapKind
    public var keySize: Int
    public var valueSize: Int
    public var maxEntries: Int
    /// Values may be read but not written by programs (e.g. `.rodata` globals).
    public var readOnly: Bool

    public init(kind: MapKind, keySize: Int, valueSize: Int, maxEntries: Int, readOnly: Bool = false) {
        self.kind = kind
        self.keySize = keySize
        self.valueSize = valueSize
        self.maxEntries = maxEntries
        self.readOnly = readOnly
    }
}

/// The maps a program's helpers and `lddw` pseudo-loads work on, by fd. The runtime implements
/// it over the shared-memory segment (`SegmentMapBackend`, also on a private segment for programs
/// run without a runtime); `MapShapes` knows shapes only, for validation. Pointers handed
/// in (`key`, `value`) have been checked for the map's key/value sizes; pointers handed back stay
/// valid at least until the end of the run. Return codes are Linux's (0 or `-errno`).
public protocol MapBackend: AnyObject {
    /// `lddw src=1`: the map behind `fd`, or `nil` when there is none.
    func map(fd: Int32) -> MapInfo?
    /// `lddw src=2`: the value of array map `fd` at key 0 (global variables).
    func globalValue(fd: Int32) -> UnsafeMutableRawBufferPointer?
    /// The value for `key` (for per-CPU maps, `cpu`'s copy), or `nil`.
    func lookup(fd: Int32, key: UnsafeRawPointer, cpu: Int) -> UnsafeMutableRawPointer?
    func update(fd: Int32, key: UnsafeRawPointer, value: UnsafeRawPointer, flags: UInt64, cpu: Int) -> Int32
    func delete(fd: Int32, key: UnsafeRawPointer) -> Int32
    func push(fd: Int32, value: UnsafeRawPointer, flags: UInt64) -> Int32
    func pop(fd: Int32, into value: UnsafeMutableRawPointer) -> Int32
    func peek(fd: Int32, into value: UnsafeMutableRawPointer) -> Int32
    func ringbufOutput(fd: Int32, data: UnsafeRawPointer, size: Int, flags: UInt64) -> Int32
    /// Space for a record of `size` bytes, committed by `ringbufSubmit` or dropped by `ringbufDiscard`.
    func ringbufReserve(fd: Int32, size: Int) -> UnsafeMutableRawPointer?
    func ringbufSubmit(_ record: UnsafeMutableRawPointer)
    func ringbufDiscard(_ record: UnsafeMutableRawPointer)
    func ringbufQuery(fd: Int32, flags: UInt64) -> UInt64
    /// `size` bytes as one record in perf_event_array `fd`'s ring of `index` (a CPU).
    func perfEventOutput(fd: Int32, index: Int, data: UnsafeRawPointer, size: Int) -> Int32
    /// The program at `index` of prog-array map `fd` (for `bpf_tail_call`).
    func program(forTailCallIn fd: Int32, index: UInt32) -> Program?
    /// Where array map `fd`'s values lie, when generated code may look them up itself exactly
    /// as `lookup` does (see `ArrayValueLayout`); `nil` keeps every lookup a helper call.
    func arrayValueLayout(fd: Int32) -> ArrayValueLayout?
    /// The same for hash map `fd` (see `HashValueLayout`).
    func hashValueLayout(fd: Int32) -> HashValueLayout?
}

extension MapBackend {
    public func arrayValueLayout(fd: Int32) -> ArrayValueLayout? { nil }
    public func hashValueLayout(fd: Int32) -> HashValueLayout? { nil }
}

/// Linux errno values helpers return (negated).
enum Errno {
    static let ENOENT: Int64 = 2
    static let E2BIG: Int64 = 7
    static let EFAULT: Int64 = 14
    static let EEXIST: Int64 = 17
    static let EINVAL: Int64 = 22
    static let ENOSPC: Int64 = 28

    /// `-errno` as a register value.
    static func result(_ errno: Int64) -> UInt64 { UInt64(bitPattern: -errno) }
}

/// A helper as generated code and the interpreter call it: r1-r5 in, r0 out, and the run's
/// `RunState` pointer last (the SysV ABI puts it in r9, the sixth argument register).
public typealias HelperFunction = @convention(c) (UInt64, UInt64, UInt64, UInt64, UInt64, UnsafeMutableRawPointer?) -> UInt64

/// Helpers by id. `entries` is a flat array of `capacity` C function pointers (null = no helper),
/// so generated code calls `entries[id]` with no per-process absolute address baked in.
public final class HelperTable {
    public static let capacity = 256
    public let entries: UnsafeMutablePointer<HelperFunction?>
    public private(set) var names: [Int32: String] = [:]

    public init() {
        entries = .allocate(capacity: Self.capacity)
        entries.initialize(repeating: nil, count: Self.capacity)
    }

    deinit { entries.deallocate() }

    /// Adds or replaces helper `id` (0 < id < capacity).
    public func register(_ id: Int32, name: String, _ function: @escaping HelperFunction) {
        precondition(id > 0 && Int(id) < Self.capacity, "helper id \(id) out of range")
        entries[Int(id)] = function
        names[id] = name
    }

    /// Adds or replaces the helper Linux numbers `id`.
    public func register(_ id: HelperID, name: String, _ function: @escaping HelperFunction) {
        register(id.rawValue, name: name, function)
    }

    @inline(__always)
    public subscript(id: Int64) -> HelperFunction? {
        guard id > 0 && id < Int64(Self.capacity) else { return nil }
        return entries[Int(id)]
    }

    /// The helpers with Linux's numbers that this VM implements (see `StandardHelpers`).
    public static func standard() -> HelperTable {
        let table = HelperTable()
        StandardHelpers.register(in: table)
        return table
    }
}

/// Register value of `lddw rX, map_fd` (src=1): a non-canonical tagged value naming the VM's map
/// slot, never a dereferenceable address; helpers turn it back into the map in O(1).
public enum MapHandle {
    public static let tag: UInt64 = 0xEB9F_0000_0000_0000
    public static func value(slot: Int) -> UInt64 { tag | UInt64(UInt32(truncatingIfNeeded: slot)) }
    public static func slot(of value: UInt64) -> Int? {
        value & 0xFFFF_FFFF_0000_0000 == tag ? Int(value & 0xFFFF_FFFF) : nil
    }
}

/// A helper's view of the run, built from its last argument.
public struct HelperContext {
    public let state: UnsafeMutablePointer<RunState>

    @inline(__always)
    public init(_ raw: UnsafeMutableRawPointer?) {
        state = raw.unsafelyUnwrapped.assumingMemoryBound(to: RunState.self)
    }

    var environment: HelperEnvironment {
        Unmanaged<HelperEnvironment>.fromOpaque(state.pointee.environment).takeUnretainedValue()
    }

    /// The host pointer for `[address, address + length)` when the program may access all of it.
    /// A zero length checks nothing and yields `nil`.
    @inline(__always)
    public func checkedPointer(_ address: UInt64, _ length: UInt64, write: Bool) -> UnsafeMutableRawPointer? {
        guard length > 0, state.pointee.allows(address, length, write: write) else { return nil }
        return UnsafeMutableRawPointer(bitPattern: UInt(truncatingIfNeeded: address))
    }

    /// Lets the program use `memory` for the rest of the run.
    public func grant(_ memory: UnsafeMutableRawPointer, length: Int, writable: Bool) {
        let low = UInt64(UInt(bitPattern: memory))
        state.pointee.grant(low: low, high: low &+ UInt64(length), writable: writable)
    }

    /// Ends the run with `reason` (the VM adds the call instruction); returns 0 for convenience.
    public func fault(_ reason: String) -> UInt64 {
        environment.pendingFault = reason
        state.pointee.attention = RunState.Attention.fault
        return 0
    }

    public var maps: MapBackend { environment.maps }
    public var cookie: UInt64 { state.pointee.cookie }

    /// Calls `body` with the map named by a `lddw src=1` register value and the backend; when the
    /// value names no map, faults the run and returns 0. (The environment and the backend are
    /// borrowed, not retained: this is every map helper's hot path.)
    @inline(__always)
    public func withMap(_ handle: UInt64, helper: String,
                        _ body: (_ fd: Int32, _ info: MapInfo, _ maps: MapBackend) -> UInt64) -> UInt64 {
        Unmanaged<HelperEnvironment>.fromOpaque(state.pointee.environment)._withUnsafeGuaranteedRef { env in
            guard let slot = MapHandle.slot(of: handle), slot < env.mapSlots.count else {
                return fault("\(helper): 0x\(String(handle, radix: 16)) is not a map")
            }
            let entry = env.mapSlots[slot]
            return body(entry.fd, entry.info, env.maps)
        }
    }
}

/// What helpers reach through the run state: maps, pending outcomes, output. Its fields are
/// exempt from dynamic exclusivity checks: one run at a time uses them, and every map helper
/// call and every run's end reads them.
@usableFromInline
final class HelperEnvironment {
    /// An empty backend when the VM has no maps: a non-optional `let` of this object is borrowed
    /// by helper calls, where unwrapping an optional one costs a retain/release pair per call.
    let maps: MapBackend
    /// Maps referenced by `lddw src=1`, indexed by the slot in their `MapHandle` value.
    @exclusivity(unchecked) var mapSlots: [(fd: Int32, info: MapInfo)] = []
    @exclusivity(unchecked) var pendingFault: String?
    @exclusivity(unchecked) var pendingTailCall: Program?
    /// Ring-buffer records reserved in this run and not yet submitted or discarded.
    @exclusivity(unchecked) @usableFromInline var reservedRecords: Set<UnsafeMutableRawPointer> = []
    /// Where `bpf_trace_printk` text goes; stdout when nil.
    let trace: ((String) -> Void)?
    @exclusivity(unchecked) var randomState: UInt64

    init(maps: MapBackend?, trace: ((String) -> Void)?) {
        self.maps = maps ?? MapShapes()
        self.trace = trace
        randomState = UInt64.random(in: 1 ... .max)
    }

    func slot(forMap fd: Int32, info: MapInfo) -> Int {
        if let index = mapSlots.firstIndex(where: { $0.fd == fd }) { return index }
        mapSlots.append((fd, info))
        return mapSlots.count - 1
    }
}

/// One scalar field of a handler, described once for every form that carries it: the segment's
/// record (in the order of its kind's table, at its type's width), bpftime's JSON and the
/// history's stored attributes (under `name`, as bpftime spells it), and `list --json`.
///
/// Each kind lists its fields in one table (`MapAttributes.fields`, `LinkHandler.fields`, ...)
/// and gives them as `fieldValues` in the same order, so adding a field is a property, a line in
/// its table and its place in `fieldValues` and `init(fieldValues:)`; the formats follow.
public struct HandlerField: Sendable, Equatable {
    public enum FieldType: Sendable, Equatable {
        case u32, u64, i32, i64, string
        /// An fd: a non-negative 32-bit integer, stored in 64 bits.
        case fd
    }

    /// The name bpftime's JSON gives the field.
    public let name: String
    public let type: FieldType
    /// The value bpftime reads when its JSON leaves the field out; `nil` when it must be there.
    public let absent: FieldValue?
    /// Ours, not bpftime's: its JSON carries the field only when not zero, so that files of
    /// bpftime's states stay byte-identical.
    public let ours: Bool

    public init(_ name: String, _ type: FieldType, absent: FieldValue? = nil, ours: Bool = false) {
        self.name = name
        self.type = type
        self.absent = absent
        self.ours = ours
    }

    /// A parsed integer's value for this field (two's complement in 64 bits, see `FieldValue`),
    /// or `nil` when the field's type cannot hold it.
    public func integer(negative: Bool, magnitude: UInt64) -> Int64? {
        let lowest: Int64, highest: UInt64
        switch type {
        case .u32: (lowest, highest) = (0, UInt64(UInt32.max))
        case .u64: (lowest, highest) = (0, .max)
        case .i32: (lowest, highest) = (Int64(Int32.min), UInt64(Int32.max))
        case .i64: (lowest, highest) = (.min, UInt64(Int64.max))
        case .fd: (lowest, highest) = (0, UInt64(Int32.max))
        case .string: return nil
        }
        if !negative { return magnitude <= highest ? Int64(bitPattern: magnitude) : nil }
        guard magnitude <= lowest.magnitude else { return nil }
        return magnitude == Int64.min.magnitude ? .min : -Int64(magnitude)
    }

    /// Whether the field's integers are signed (a `u64` above `Int64.max` is stored negative).
    public var isSigned: Bool { type == .i32 || type == .i64 || type == .fd }

    /// What a value of the field must be, for messages: "an unsigned 32-bit integer".
    public var expected: String {
        switch type {
        case .u32: "an unsigned 32-bit integer"
        case .u64: "an unsigned 64-bit integer"
        case .i32: "a signed 32-bit integer"
        case .i64: "a signed 64-bit integer"
        case .fd: "an fd (a non-negative 32-bit integer)"
        case .string: "a string"
        }
    }
}

/// A field's value. Integers of every type are kept as 64-bit two's complement (a `u64`'s
/// bit pattern), with the field's type saying how to read them back.
public enum FieldValue: Hashable, Sendable {
    case integer(Int64)
    case string(String)

    public static let zero = FieldValue.integer(0)

    public static func unsigned(_ v: some BinaryInteger) -> FieldValue { .integer(Int64(truncatingIfNeeded: v)) }

    public var bits: Int64 {
        if case .integer(let v) = self { return v }
        return 0
    }

    public var text: String {
        if case .string(let s) = self { return s }
        return ""
    }

    public var isZero: Bool { self == .zero || self == .string("") }
}

// Each kind below: `fields` in the segment record's order, `fieldValues` in that order, and an
// initializer from such values, each of its field's type (the readers check them first).

extension MapAttributes {
    public static let fields: [HandlerField] = [
        HandlerField("map_type", .u32), HandlerField("key_size", .u32), HandlerField("value_size", .u32),
        HandlerField("max_entries", .u32), HandlerField("flags", .u64, absent: .zero),
        HandlerField("ifindex", .u32, absent: .zero), HandlerField("btf_vmlinux_value_type_id", .u32, absent: .zero),
        HandlerField("btf_id", .u32, absent: .zero), HandlerField("btf_key_type_id", .u32, absent: .zero),
        HandlerField("btf_value_type_id", .u32, absent: .zero), HandlerField("map_extra", .u64, absent: .zero),
        HandlerField("kernel_bpf_map_id", .u32, absent: .zero),
    ]

    public var fieldValues: [FieldValue] {
        [.unsigned(mapType), .unsigned(keySize), .unsigned(valueSize), .unsigned(maxEntries), .unsigned(flags),
         .unsigned(ifindex), .unsigned(btfVmlinuxValueTypeID), .unsigned(btfID), .unsigned(btfKeyTypeID),
         .unsigned(btfValueTypeID), .unsigned(mapExtra), .unsigned(kernelBPFMapID)]
    }

    public init(fieldValues v: [FieldValue]) {
        func u32(_ i: Int) -> UInt32 { UInt32(truncatingIfNeeded: v[i].bits) }
        func u64(_ i: Int) -> UInt64 { UInt64(bitPattern: v[i].bits) }
        self.init(mapType: u32(0), keySize: u32(1), valueSize: u32(2), maxEntries: u32(3), flags: u64(4), ifindex: u32(5),
                  btfVmlinuxValueTypeID: u32(6), btfID: u32(7), btfKeyTypeID: u32(8), btfValueTypeID: u32(9),
                  mapExtra: u64(10), kernelBPFMapID: u32(11))
    }
}

extension LinkHandler {
    public static let fields: [HandlerField] = [
        HandlerField("prog_fd", .fd), HandlerField("target_fd", .fd),
        HandlerField("attach_type", .u32, absent: .zero, ours: true), HandlerField("cookie", .u64, absent: .zero, ours: true),
    ]

    public var fieldValues: [FieldValue] { [.integer(Int64(programFD)), .integer(Int64(targetFD)), .unsigned(attachType), .unsigned(cookie)] }

    public init(fieldValues v: [FieldValue]) {
        self.init(programFD: Int(truncatingIfNeeded: v[0].bits), targetFD: Int(truncatingIfNeeded: v[1].bits),
                  attachType: UInt32(truncatingIfNeeded: v[2].bits), cookie: UInt64(bitPattern: v[3].bits))
    }
}

/// A memfd's name is its handler's name (bpftime's JSON keeps it in `attr`, beside `flags`).
extension MemfdHandler {
    public static let fields: [HandlerField] = [HandlerField("flags", .u32, absent: .zero)]

    public var fieldValues: [FieldValue] { [.unsigned(flags)] }

    public init(name: String, fieldValues v: [FieldValue]) {
        self.init(name: name, flags: UInt32(truncatingIfNeeded: v[0].bits))
    }
}

extension PerfEventHandler.UprobeTarget {
    public static let fields: [HandlerField] = [
        HandlerField("_module_name", .string, absent: .string("")), HandlerField("offset", .u64, absent: .zero),
        PerfEventHandler.Event.pid, HandlerField("ref_ctr_off", .u64, absent: .zero),
    ]

    public var fieldValues: [FieldValue] { [.string(moduleName), .unsigned(offset), .integer(Int64(pid)), .unsigned(refCtrOffset)] }

    public init(fieldValues v: [FieldValue]) {
        self.init(moduleName: v[0].text, offset: UInt64(bitPattern: v[1].bits), pid: Int32(truncatingIfNeeded: v[2].bits),
                  refCtrOffset: UInt64(bitPattern: v[3].bits))
    }
}

extension PerfEventHandler.Event {
    static let pid = HandlerField("pid", .i32, absent: .integer(-1))
    static let tracepointFields = [pid, HandlerField("tracepoint_id", .i32, absent: .integer(-1))]
    static let softwareFields = [HandlerField("cpu", .i32, absent: .zero), HandlerField("config", .i64, absent: .zero),
                                 HandlerField("sample_type", .i32, absent: .zero)]

    /// The fields of an event of bpftime type `type`; an opaque event's are a uprobe target's
    /// when it has one (`hasTarget`).
    public static func fields(type: Int32, hasTarget: Bool = true) -> [HandlerField] {
        switch type {
        case PerfEventType.uprobe, PerfEventType.uretprobe, PerfEventType.uprobeOverride: PerfEventHandler.UprobeTarget.fields
        case PerfEventType.tracepoint: tracepointFields
        case PerfEventType.software: softwareFields
        default: hasTarget ? PerfEventHandler.UprobeTarget.fields : []
        }
    }

    public var fields: [HandlerField] {
        switch self {
        case .tracepoint: Self.tracepointFields
        case .software: Self.softwareFields
        default: target == nil ? [] : PerfEventHandler.UprobeTarget.fields
        }
    }

    /// The uprobe target of a uprobe-like or opaque event.
    public var target: PerfEventHandler.UprobeTarget? {
        switch self {
        case .uprobe(let t), .uretprobe(let t), .uprobeOverride(let t): t
        case .opaque(_, let t): t
        case .tracepoint, .software: nil
        }
    }

    public var fieldValues: [FieldValue] {
        switch self {
        case .tracepoint(let pid, let id): [.integer(Int64(pid)), .integer(Int64(id))]
        case .software(let cpu, let config, let sampleType): [.integer(Int64(cpu)), .integer(config), .integer(Int64(sampleType))]
        default: target?.fieldValues ?? []
        }
    }

    /// An event of bpftime type `type` from values in `fields(type:hasTarget:)`' order.
    public init(type: Int32, fieldValues v: [FieldValue]) {
        func i32(_ i: Int) -> Int32 { Int32(truncatingIfNeeded: v[i].bits) }
        switch type {
        case PerfEventType.uprobe: self = .uprobe(.init(fieldValues: v))
        case PerfEventType.uretprobe: self = .uretprobe(.init(fieldValues: v))
        case PerfEventType.uprobeOverride: self = .uprobeOverride(.init(fieldValues: v))
        case PerfEventType.tracepoint: self = .tracepoint(pid: i32(0), tracepointID: i32(1))
        case PerfEventType.software: self = .software(cpu: i32(0), config: v[1].bits, sampleType: i32(2))
        default: self = .opaque(type: type, target: v.isEmpty ? nil : .init(fieldValues: v))
        }
    }
}

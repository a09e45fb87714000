/// `bpf_map_handler`: a map's definition and, when known, its contents.
public struct MapHandler: Equatable, Hashable, Sendable {
    public var name: String
    public var attributes: MapAttributes
    /// The map's data; `nil` when it was not given (e.g. a bpftime file, or `--no-data`).
    public var contents: MapContents?
    /// Frozen (BPF_MAP_FREEZE): userspace may no longer write it. Storage state, like
    /// `contents`: known when the contents are read, and restored with them.
    public var frozen: Bool

    public init(name: String, attributes: MapAttributes, contents: MapContents? = nil, frozen: Bool = false) {
        self.name = name
        self.attributes = attributes
        self.contents = contents
        self.frozen = frozen
    }
}

/// Every map attribute bpftime exports (`bpf_map_attr`), with its JSON name in comments.
public struct MapAttributes: Equatable, Hashable, Sendable {
    public var mapType: UInt32             // map_type
    public var keySize: UInt32             // key_size
    public var valueSize: UInt32           // value_size
    public var maxEntries: UInt32          // max_entries
    public var flags: UInt64               // flags
    public var ifindex: UInt32             // ifindex
    public var btfVmlinuxValueTypeID: UInt32 // btf_vmlinux_value_type_id
    public var btfID: UInt32               // btf_id
    public var btfKeyTypeID: UInt32        // btf_key_type_id
    public var btfValueTypeID: UInt32      // btf_value_type_id
    public var mapExtra: UInt64            // map_extra
    public var kernelBPFMapID: UInt32      // kernel_bpf_map_id

    public init(mapType: UInt32, keySize: UInt32, valueSize: UInt32, maxEntries: UInt32,
                flags: UInt64 = 0, ifindex: UInt32 = 0, btfVmlinuxValueTypeID: UInt32 = 0,
                btfID: UInt32 = 0, btfKeyTypeID: UInt32 = 0, btfValueTypeID: UInt32 = 0,
                mapExtra: UInt64 = 0, kernelBPFMapID: UInt32 = 0) {
        (self.mapType, self.keySize, self.valueSize, self.maxEntries) = (mapType, keySize, valueSize, maxEntries)
        (self.flags, self.ifindex, self.mapExtra, self.kernelBPFMapID) = (flags, ifindex, mapExtra, kernelBPFMapID)
        (self.btfVmlinuxValueTypeID, self.btfID) = (btfVmlinuxValueTypeID, btfID)
        (self.btfKeyTypeID, self.btfValueTypeID) = (btfKeyTypeID, btfValueTypeID)
    }

    /// How the map behaves; `nil` for a type we keep but cannot operate on.
    public var kind: MapKind? { MapKind(mapType: mapType) }
}

/// The map types with storage semantics. bpftime's kernel-user types (1000 + base type)
/// behave as their base type.
public enum MapKind: String, Sendable, CaseIterable {
    case hash, array, progArray, perfEventArray, percpuHash, percpuArray, lruHash, lruPercpuHash
    case queue, stack, ringbuf
    /// BPF_MAP_TYPE_STACK_TRACE: stack ids (u32 keys) to the addresses `bpf_get_stackid` stored,
    /// kept as a hash map of at most max_entries ids.
    case stackTrace

    public static let kernelUserOffset: UInt32 = 1000

    /// The kind of a stored `map_type`, found in `linuxType` (the one table of the numbers).
    public init?(mapType: UInt32) {
        let base = mapType > Self.kernelUserOffset ? mapType - Self.kernelUserOffset : mapType
        guard let kind = Self.allCases.first(where: { $0.linuxType == base }) else { return nil }
        self = kind
    }

    /// Linux's `bpf_map_type` number of the base type.
    public var linuxType: UInt32 {
        switch self {
        case .hash: 1
        case .array: 2
        case .progArray: 3
        case .perfEventArray: 4
        case .percpuHash: 5
        case .percpuArray: 6
        case .stackTrace: 7
        case .lruHash: 9
        case .lruPercpuHash: 10
        case .queue: 22
        case .stack: 23
        case .ringbuf: 27
        }
    }

    /// Each entry holds one value per possible CPU.
    @inlinable public var isPerCPU: Bool { self == .percpuHash || self == .percpuArray || self == .lruPercpuHash }
    /// Entries are addressed by key (lookup/update/delete/get_next_key).
    @inlinable public var isKeyed: Bool { !(self == .queue || self == .stack || self == .ringbuf || self == .perfEventArray) }
    /// Push/pop/peek containers, kept in order.
    public var isSequence: Bool { self == .queue || self == .stack }
    /// Every index below max_entries always exists (no delete).
    public var isArray: Bool { self == .array || self == .percpuArray || self == .progArray }
}

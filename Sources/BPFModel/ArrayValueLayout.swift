/// Where an array or percpu_array map's values lie in this process, for code that computes a
/// value's address itself instead of calling the map's lookup (the JIT's inline lookup). Addresses
/// are plain integers: generated code embeds them.
///
/// The value of index `i` on CPU `c` is at `entries + i * entryStride + c * cpuStride`, for
/// `i < maxEntries` and `c < cpus` (1 for a plain array). The map is still the one described
/// while the 4 bytes at `identity` hold `magic` and the 8 bytes at `identity + 8` hold `serial`
/// (a removed or replaced map's storage does not). A writable value may be handed out only
/// while the 4-byte program-write mark at `programWriteMark` is non-zero: the map's own lookup
/// raises it, so code that finds it zero must call that lookup instead.
public struct ArrayValueLayout: Hashable, Sendable {
    public var entries: UInt64
    public var entryStride: Int
    public var cpuStride: Int
    public var maxEntries: Int
    public var cpus: Int
    public var identity: UInt64
    public var magic: UInt32
    public var serial: UInt64
    public var programWriteMark: UInt64

    public init(entries: UInt64, entryStride: Int, cpuStride: Int, maxEntries: Int, cpus: Int,
                identity: UInt64, magic: UInt32, serial: UInt64, programWriteMark: UInt64) {
        self.entries = entries
        self.entryStride = entryStride
        self.cpuStride = cpuStride
        self.maxEntries = maxEntries
        self.cpus = cpus
        self.identity = identity
        self.magic = magic
        self.serial = serial
        self.programWriteMark = programWriteMark
    }
}

/// Where a hash map's entries lie in this process, for code that finds a key's value itself
/// instead of calling the map's lookup (the JIT's inline lookup). Addresses are plain integers:
/// generated code embeds them.
///
/// A key of `keySize` bytes (4 or 8, read as a little-endian integer `k`) hashes to bucket
/// `b = UInt32(truncatingIfNeeded: h ^ (h >> 32)) & bucketMask` with `h = k &* hashMultiplier`;
/// the 4-byte word at `buckets + 4 * b` is the 1-based index of the chain's first entry (0: none),
/// entry `i` lies at `entries + (i - 1) * entryStride`, with its key at `keyOffset`, its value at
/// `valueOffset` and the next index in its first 4 bytes. An index above `maxEntries` is not
/// followed. These reads take no lock: they count only if the 8-byte sequence word at `sequence`
/// was even before them and unchanged after them (no locker wrote meanwhile). Identity and the
/// program-write mark are as in `ArrayValueLayout`, read inside that window.
public struct HashValueLayout: Hashable, Sendable {
    public static let hashMultiplier: UInt64 = 0x9E37_79B9_7F4A_7C15

    public var buckets: UInt64
    public var bucketMask: UInt32
    public var entries: UInt64
    public var entryStride: Int
    public var keySize: Int
    public var keyOffset: Int
    public var valueOffset: Int
    public var maxEntries: Int
    public var sequence: UInt64
    public var identity: UInt64
    public var magic: UInt32
    public var serial: UInt64
    public var programWriteMark: UInt64

    public init(buckets: UInt64, bucketMask: UInt32, entries: UInt64, entryStride: Int, keySize: Int, keyOffset: Int,
                valueOffset: Int, maxEntries: Int, sequence: UInt64, identity: UInt64, magic: UInt32, serial: UInt64,
                programWriteMark: UInt64) {
        self.buckets = buckets
        self.bucketMask = bucketMask
        self.entries = entries
        self.entryStride = entryStride
        self.keySize = keySize
        self.keyOffset = keyOffset
        self.valueOffset = valueOffset
        self.maxEntries = maxEntries
        self.sequence = sequence
        self.identity = identity
        self.magic = magic
        self.serial = serial
        self.programWriteMark = programWriteMark
    }
}

/// A map's data as flat byte buffers: compact enough for million-entry maps.
///
/// Keyed maps: `count` keys of `keySize` bytes in `keys`, and for each one
/// `valuesPerEntry * valueSize` bytes in `values` (one value per CPU for per-CPU maps).
/// Queue and stack maps: `keySize == 0`, `keys` empty, values in pop order's reverse for a
/// stack and push order for a queue (oldest first in both: the order they were pushed).
public struct MapContents: Equatable, Hashable, Sendable {
    public var keySize: Int
    public var valueSize: Int
    public var valuesPerEntry: Int
    public var keys: [UInt8]
    public var values: [UInt8]

    public init(keySize: Int, valueSize: Int, valuesPerEntry: Int = 1, keys: [UInt8] = [], values: [UInt8] = []) {
        self.keySize = keySize
        self.valueSize = valueSize
        self.valuesPerEntry = valuesPerEntry
        self.keys = keys
        self.values = values
    }

    public var entryStride: Int { valueSize * valuesPerEntry }
    public var count: Int { entryStride == 0 ? 0 : values.count / entryStride }
    public var isEmpty: Bool { values.isEmpty }

    public func key(at index: Int) -> ArraySlice<UInt8> {
        keys[index * keySize ..< (index + 1) * keySize]
    }

    /// All of entry `index`'s value bytes (every CPU's for per-CPU maps).
    public func value(at index: Int) -> ArraySlice<UInt8> {
        values[index * entryStride ..< (index + 1) * entryStride]
    }

    public mutating func append(key: some Collection<UInt8>, value: some Collection<UInt8>) {
        keys.append(contentsOf: key)
        values.append(contentsOf: value)
    }

    /// A prog_array's entries as (slot index, program fd), both little-endian u32.
    public func programSlots() -> [(index: UInt32, program: UInt32)] {
        guard keySize == 4, valueSize == 4 else { return [] }
        return (0..<count).map { i in
            (UInt32(littleEndian: key(at: i).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }),
             UInt32(littleEndian: value(at: i).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }))
        }
    }

    /// The same contents without the entries at `indices`.
    public func removingEntries(_ indices: Set<Int>) -> MapContents {
        var kept = MapContents(keySize: keySize, valueSize: valueSize, valuesPerEntry: valuesPerEntry)
        for i in 0..<count where !indices.contains(i) { kept.append(key: key(at: i), value: value(at: i)) }
        return kept
    }
}

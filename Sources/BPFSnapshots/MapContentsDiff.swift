import BPFModel

/// How a map's entries changed, as flat buffers (a million changed entries stay compact).
/// Queue and stack entries are compared by position, given as a 4-byte big-endian key.
public struct MapContentsDiff: Equatable, Sendable {
    public enum Detail: Sendable { case entries, counts }

    /// Entries only in the new contents, with their values.
    public var added: MapContents
    /// Entries only in the old contents, with their values.
    public var removed: MapContents
    /// Keys in both whose value differs.
    public var changed: ChangedEntries
    /// Counts, also kept in `.counts` mode where the buffers above stay empty.
    public var addedCount = 0, removedCount = 0, changedCount = 0

    public init(added: MapContents = MapContents(keySize: 0, valueSize: 0),
                removed: MapContents = MapContents(keySize: 0, valueSize: 0),
                changed: ChangedEntries = ChangedEntries(keySize: 0, oldStride: 0, newStride: 0)) {
        self.added = added
        self.removed = removed
        self.changed = changed
        addedCount = added.count
        removedCount = removed.count
        changedCount = changed.count
    }

    public var isEmpty: Bool { addedCount == 0 && removedCount == 0 && changedCount == 0 }

    /// Every entry change in key order, removed and added ones with a `nil` side. Materializes
    /// one array per entry: for printing, not for million-entry diffs.
    public var entries: [(key: [UInt8], old: [UInt8]?, new: [UInt8]?)] {
        var all: [(key: [UInt8], old: [UInt8]?, new: [UInt8]?)] = []
        for i in 0..<removed.count { all.append((Array(removed.key(at: i)), Array(removed.value(at: i)), nil)) }
        for i in 0..<added.count { all.append((Array(added.key(at: i)), nil, Array(added.value(at: i)))) }
        for i in 0..<changed.count { all.append((Array(changed.key(at: i)), Array(changed.oldValue(at: i)), Array(changed.newValue(at: i)))) }
        return all.sorted { $0.key.lexicographicallyPrecedes($1.key) }
    }

    /// Merges two key-sorted entry lists.
    static func between(_ old: SortedEntries, _ new: SortedEntries, detail: Detail) -> MapContentsDiff {
        let keep = detail == .entries
        var diff = MapContentsDiff(
            added: MapContents(keySize: new.keySize, valueSize: new.contents.valueSize, valuesPerEntry: new.contents.valuesPerEntry),
            removed: MapContents(keySize: old.keySize, valueSize: old.contents.valueSize, valuesPerEntry: old.contents.valuesPerEntry),
            changed: ChangedEntries(keySize: new.keySize, oldStride: old.stride, newStride: new.stride))
        func add(_ j: Int) {
            diff.addedCount += 1
            if keep { diff.added.append(key: new.key(j), value: new.value(j)) }
        }
        func remove(_ i: Int) {
            diff.removedCount += 1
            if keep { diff.removed.append(key: old.key(i), value: old.value(i)) }
        }
        // Keys of different sizes never match: everything went and came.
        guard old.keySize == new.keySize else {
            (0..<old.count).forEach(remove)
            (0..<new.count).forEach(add)
            return diff
        }
        var i = 0, j = 0
        while i < old.count || j < new.count {
            let order = i == old.count ? 1 : j == new.count ? -1 : compare(old.key(i), new.key(j))
            if order < 0 {
                remove(i); i += 1
            } else if order > 0 {
                add(j); j += 1
            } else {
                if !old.value(i).elementsEqual(new.value(j)) {
                    diff.changedCount += 1
                    if keep { diff.changed.append(key: old.key(i), old: old.value(i), new: new.value(j)) }
                }
                i += 1; j += 1
            }
        }
        return diff
    }

    private static func compare(_ a: ArraySlice<UInt8>, _ b: ArraySlice<UInt8>) -> Int {
        for (x, y) in zip(a, b) where x != y { return x < y ? -1 : 1 }
        return a.count - b.count
    }
}

/// Keys whose value changed, with both values, back to back in flat buffers.
public struct ChangedEntries: Equatable, Sendable {
    public var keySize: Int
    public var oldStride: Int
    public var newStride: Int
    public var keys: [UInt8] = []
    public var oldValues: [UInt8] = []
    public var newValues: [UInt8] = []

    public init(keySize: Int, oldStride: Int, newStride: Int) {
        self.keySize = keySize
        self.oldStride = oldStride
        self.newStride = newStride
    }

    public var count: Int { keySize > 0 ? keys.count / keySize : 0 }
    public func key(at i: Int) -> ArraySlice<UInt8> { keys[i * keySize ..< (i + 1) * keySize] }
    public func oldValue(at i: Int) -> ArraySlice<UInt8> { oldValues[i * oldStride ..< (i + 1) * oldStride] }
    public func newValue(at i: Int) -> ArraySlice<UInt8> { newValues[i * newStride ..< (i + 1) * newStride] }

    mutating func append(key: ArraySlice<UInt8>, old: ArraySlice<UInt8>, new: ArraySlice<UInt8>) {
        keys += key
        oldValues += old
        newValues += new
    }
}

/// A map's entries in key order, without copying them: `order` indexes `contents`.
struct SortedEntries {
    var contents: MapContents
    var order: [Int]

    /// Sorts `contents`; queue and stack maps get their position as a 4-byte big-endian key.
    /// Bytes past the last whole entry of inconsistent buffers are ignored.
    init(_ contents: MapContents) {
        let stride = contents.entryStride
        let count = stride <= 0 || contents.valuesPerEntry < 1 || contents.keySize < 0 ? 0
            : min(contents.values.count / stride, contents.keySize == 0 ? Int.max : contents.keys.count / contents.keySize)
        if contents.keySize == 0 {
            var keyed = MapContents(keySize: 4, valueSize: contents.valueSize, valuesPerEntry: contents.valuesPerEntry)
            keyed.values = contents.values
            keyed.keys.reserveCapacity(4 * count)
            for i in 0..<count { withUnsafeBytes(of: UInt32(truncatingIfNeeded: i).bigEndian) { keyed.keys += $0 } }
            self.contents = keyed
            order = Array(0..<count)
        } else {
            self.contents = contents
            order = MapChunks.sortedOrder(contents, count: count)
        }
    }

    /// Entries already in key order.
    init(sorted contents: MapContents) {
        self.contents = contents
        order = Array(0..<contents.count)
    }

    var keySize: Int { contents.keySize }
    var stride: Int { contents.entryStride }
    var count: Int { order.count }
    func key(_ i: Int) -> ArraySlice<UInt8> { contents.key(at: order[i]) }
    func value(_ i: Int) -> ArraySlice<UInt8> { contents.value(at: order[i]) }
}

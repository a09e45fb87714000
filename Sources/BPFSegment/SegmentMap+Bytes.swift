import BPFModel
import Glibc

/// Byte-array forms for the CLI: sizes checked, failures as `SegmentError`s with clear text.
/// Per-CPU values are every CPU's value packed (`userValueSize` bytes).
extension SegmentMap {
    /// Refuses maps this API cannot read or write key by key.
    private func requireKeyed() throws {
        guard let kind else { throw SegmentError.unsupportedMapType(fd: fd, mapType: attributes.mapType) }
        guard kind.isKeyed else { throw SegmentError.noData(fd: fd, kind: kind.rawValue) }
    }

    private func requireSequence() throws {
        guard let kind else { throw SegmentError.unsupportedMapType(fd: fd, mapType: attributes.mapType) }
        guard kind.isSequence else { throw SegmentError.mapOperation(fd: fd, operation: "push/pop/peek on a \(kind.rawValue) map", errno: EINVAL) }
    }

    private func checkSize(_ bytes: [UInt8], _ what: String, _ expected: Int) throws {
        guard bytes.count == expected else { throw SegmentError.wrongSize(fd: fd, what: what, expected: expected, actual: bytes.count) }
    }

    private func check(_ result: Int32, _ operation: String) throws {
        if result == -ESTALE { throw SegmentError.stale(fd: fd) }
        if result != 0 { throw SegmentError.mapOperation(fd: fd, operation: operation, errno: -result) }
    }

    /// The value for `key` (all CPUs' for per-CPU maps), or nil if absent. Copied under the lock.
    public func lookup(key: [UInt8]) throws -> [UInt8]? {
        try requireKeyed()
        try checkSize(key, "key", keySize)
        var out = [UInt8](repeating: 0, count: userValueSize)
        let found = withLockedStore { store -> Bool in
            withPointer(key) { k in
                guard let slot = store.lookup(k, cpu: 0) else { return false }
                withMutablePointer(&out) { store.readValue(slot, into: $0) }
                return true
            }
        }
        guard let found else { throw SegmentError.stale(fd: fd) }
        return found ? out : nil
    }

    public func update(key: [UInt8], value: [UInt8], flags: UInt64 = 0) throws {
        try requireKeyed()
        try checkSize(key, "key", keySize)
        try checkSize(value, "value", userValueSize)
        let result = withPointer(key) { k in withPointer(value) { v in mutate(fromUserspace: true) { write($0, k, v, flags: flags, cpu: nil) } } }
        if kind == .progArray, result == -EINVAL, flags <= 2 {
            throw SegmentError.invalidMap(fd: fd, detail: "fd \(value.u32LE) is not a program; a prog_array holds program fds only")
        }
        try check(result, "update")
    }

    public func delete(key: [UInt8]) throws {
        try requireKeyed()
        try checkSize(key, "key", keySize)
        try check(withPointer(key) { k in mutate(fromUserspace: true) { $0.delete(k) } }, "delete")
    }

    /// The key after `key` (the first when nil or absent); nil after the last.
    public func nextKey(after key: [UInt8]?) throws -> [UInt8]? {
        try requireKeyed()
        if let key { try checkSize(key, "key", keySize) }
        var out = [UInt8](repeating: 0, count: keySize)
        let result = withMutablePointer(&out) { o in
            if let key { withPointer(key) { nextKey(after: $0, into: o) } } else { nextKey(after: nil, into: o) }
        }
        if result == -ENOENT { return nil }
        try check(result, "get_next_key")
        return out
    }

    public func push(value: [UInt8], flags: UInt64 = 0) throws {
        try requireSequence()
        try checkSize(value, "value", valueSize)
        try check(withPointer(value) { v in mutate(fromUserspace: true) { $0.push(v, flags: flags) } }, "push")
    }

    /// The next value pop would return, removed when `remove`; nil when empty.
    public func pop() throws -> [UInt8]? { try take { out in mutate(fromUserspace: true) { $0.take(into: out, remove: true) } } }
    public func peek() throws -> [UInt8]? { try take { peek(into: $0) } }

    private func take(_ operation: (UnsafeMutableRawPointer) -> Int32) throws -> [UInt8]? {
        try requireSequence()
        var out = [UInt8](repeating: 0, count: valueSize)
        let result = withMutablePointer(&out) { operation($0) }
        if result == -ENOENT { return nil }
        try check(result, "pop/peek")
        return out
    }

    /// Refuses every later write from userspace (`update`, `delete`, `push`, `pop` here), as
    /// BPF_MAP_FREEZE does; programs keep writing. Freezing twice is allowed.
    public func freeze() throws {
        guard let kind else { throw SegmentError.unsupportedMapType(fd: fd, mapType: attributes.mapType) }
        guard store != nil else { throw SegmentError.noData(fd: fd, kind: kind.rawValue) }
        try check(mutate { $0.setFrozen(true); return 0 }, "freeze")
    }

    /// A consistent copy of the map's data, read under the lock.
    public func contents() throws -> MapContents {
        guard let kind else { throw SegmentError.unsupportedMapType(fd: fd, mapType: attributes.mapType) }
        guard kind.isKeyed || kind.isSequence else { throw SegmentError.noData(fd: fd, kind: kind.rawValue) }
        guard let contents = withLockedStore({ $0.contents() }) else { throw SegmentError.stale(fd: fd) }
        return contents
    }

    /// Submitted ringbuf records, oldest first; `consume` moves the consumer past them.
    public func ringbufRecords(limit: Int = .max, consume: Bool = false) throws -> [[UInt8]] {
        guard kind == .ringbuf else { throw SegmentError.mapOperation(fd: fd, operation: "reading records of a non-ringbuf map", errno: EINVAL) }
        return try readingRecords(consume: consume) { $0.readRecords(limit: limit, consume: consume) }
    }

    /// A perf_event_array's records, each CPU's oldest first, with the CPU; `consume` moves
    /// each ring's consumer past what it returns.
    public func perfEventRecords(limit: Int = .max, consume: Bool = false) throws -> [(cpu: Int, record: [UInt8])] {
        guard kind == .perfEventArray else {
            throw SegmentError.mapOperation(fd: fd, operation: "reading records of a non-perf_event_array map", errno: EINVAL)
        }
        return try readingRecords(consume: consume) { store in
            var records: [(cpu: Int, record: [UInt8])] = []
            for cpu in 0..<store.layout.cpus where records.count < limit {
                records += store.read(store.perfRing(cpu), limit: limit - records.count, consume: consume).map { (cpu, $0) }
            }
            return records
        }
    }

    /// `read`'s records under the lock; consuming them is a change of the segment.
    private func readingRecords<T>(consume: Bool, _ read: (MapStore) -> [T]) throws -> [T] {
        guard let records = withLockedStore({ store -> [T] in
            let records = read(store)
            store.journal.commit()
            if consume, !records.isEmpty { header.bumpGeneration() }
            return records
        }) else { throw SegmentError.stale(fd: fd) }
        return records
    }

    /// nil when the lock cannot be had or the map is gone.
    func withLockedStore<T>(_ body: (MapStore) -> T) -> T? {
        guard let store, lock() else { return nil }
        defer { unlock() }
        return current(store) ? body(store) : nil
    }
}

private extension [UInt8] {
    /// The first four bytes as a little-endian u32 (a prog_array value: a program fd).
    var u32LE: UInt32 { prefix(4).reversed().reduce(0) { $0 << 8 | UInt32($1) } }
}

/// Sizes were checked against maps whose keys and values are never empty; an empty array
/// still gets a valid pointer instead of a trap.
private func withPointer<R>(_ bytes: [UInt8], _ body: (UnsafeRawPointer) -> R) -> R {
    (bytes.isEmpty ? [0] : bytes).withUnsafeBytes { body($0.baseAddress!) }
}

private func withMutablePointer<R>(_ bytes: inout [UInt8], _ body: (UnsafeMutableRawPointer) -> R) -> R {
    if bytes.isEmpty { bytes = [0] }
    return bytes.withUnsafeMutableBytes { body($0.baseAddress!) }
}

extension Segment {
    /// The map at `fd`, for fast repeated access.
    public func map(at fd: Int) throws -> SegmentMap {
        try locked { try mapLocked(at: fd, lockHeld: false) }
    }

    /// Caller holds the lock; with `lockHeld` the map's operations rely on that hold.
    func mapLocked(at fd: Int, lockHeld: Bool) throws -> SegmentMap {
        try checkRange(fd)
        guard let (handler, record) = try storedHandler(fd) else { throw SegmentError.noHandler(fd: fd) }
        guard case .map(let map) = handler else { throw SegmentError.notAMap(fd: fd, kind: handler.kind.rawValue) }
        return SegmentMap(fd: fd, attributes: map.attributes, segment: self,
                          store: try mapStore(fd: fd, record: record, attributes: map.attributes), lockHeld: lockHeld)
    }
}

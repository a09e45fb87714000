import Glibc

/// ringbuf: max_entries bytes of records, each an 8-byte header (length with busy and discard
/// bits, offset of the header) and its data padded to 8. The kernel maps the data twice so a
/// record may wrap; here a record that would wrap is preceded by a discarded padding record.
extension MapStore {
    static let busyBit: UInt32 = 1 << 31, discardBit: UInt32 = 1 << 30
    static let ringHeaderBytes = 8
    static let availableData: UInt64 = 0, ringSize: UInt64 = 1, consumerPosition: UInt64 = 2, producerPosition: UInt64 = 3

    private var ringMask: Int { maxEntries - 1 }
    var consumer: Int { state(MapLayout.consumerAt) }
    var producer: Int { state(MapLayout.producerAt) }

    /// Room for `size` data bytes, marked busy; nil when the ring has no room. The producer
    /// position moves last, in one store: a crash before it leaves the ring as it was.
    func reserve(_ size: Int) -> UnsafeMutableRawPointer? {
        let total = roundUp(size + Self.ringHeaderBytes, 8)
        guard size >= 0, size < Int(Self.discardBit), total <= maxEntries else { return nil }
        var position = producer
        let used = position &- consumer
        guard used >= 0, used <= maxEntries else { return nil }
        var offset = position & ringMask
        let padding = offset + total > maxEntries ? maxEntries - offset : 0
        guard used + padding + total <= maxEntries else { return nil }
        if padding > 0 {
            entries.set32(offset, UInt32(padding - Self.ringHeaderBytes) | Self.discardBit)
            entries.set32(offset + 4, UInt32(offset))
            position = position &+ padding
            offset = 0
        }
        entries.set32(offset, UInt32(size) | Self.busyBit)
        entries.set32(offset + 4, UInt32(offset))
        orderStores()
        setState(MapLayout.producerAt, position &+ total)
        return entries + offset + Self.ringHeaderBytes
    }

    /// Commits (or discards) a reserved record; -EINVAL for a pointer that is not one.
    func finish(_ data: UnsafeMutableRawPointer, discard: Bool) -> Int32 {
        let offset = data - entries - Self.ringHeaderBytes
        guard offset >= 0, offset < maxEntries, offset % 8 == 0, Int(entries.u32(offset + 4)) == offset else { return -EINVAL }
        let word = entries.u32(offset)
        guard word & Self.busyBit != 0 else { return -EINVAL }
        entries.set32(offset, (word & ~Self.busyBit) | (discard ? Self.discardBit : 0))
        return 0
    }

    func output(_ data: UnsafeRawPointer, size: Int) -> Int32 {
        guard let slot = reserve(size) else { return -EAGAIN }
        slot.copyMemory(from: data, byteCount: size)
        return finish(slot, discard: false)
    }

    func query(_ flags: UInt64) -> UInt64 {
        switch flags {
        case Self.availableData: UInt64(max(producer &- consumer, 0))
        case Self.ringSize: UInt64(maxEntries)
        case Self.consumerPosition: UInt64(max(consumer, 0))
        case Self.producerPosition: UInt64(max(producer, 0))
        default: 0
        }
    }

    /// Submitted records from the consumer position on, stopping at a busy one; advances the
    /// consumer past what it returns when `consume`.
    func readRecords(limit: Int, consume: Bool) -> [[UInt8]] {
        var records: [[UInt8]] = []
        var position = consumer
        let end = producer
        while position < end, records.count < limit, let (size, flags) = ringRecord(at: position, end: end) {
            if flags & Self.busyBit != 0 { break }
            if flags & Self.discardBit == 0 {
                let offset = (position & ringMask) + Self.ringHeaderBytes
                records.append(Array(UnsafeRawBufferPointer(start: entries + offset, count: size)))
            }
            position = position &+ roundUp(size + Self.ringHeaderBytes, 8)
        }
        if consume, position != consumer {
            saveState()
            setState(MapLayout.consumerAt, position)
        }
        return records
    }

    /// A record's data size and flag bits, if its header is sane.
    private func ringRecord(at position: Int, end: Int) -> (Int, UInt32)? {
        let offset = position & ringMask
        guard offset + Self.ringHeaderBytes <= maxEntries else { return nil }
        let word = entries.u32(offset)
        let size = Int(word & ~(Self.busyBit | Self.discardBit))
        guard Int(entries.u32(offset + 4)) == offset, offset + roundUp(size + Self.ringHeaderBytes, 8) <= maxEntries,
              position &+ roundUp(size + Self.ringHeaderBytes, 8) <= end else { return nil }
        return (size, word & (Self.busyBit | Self.discardBit))
    }

    func ringProblems() -> [String] {
        let c = consumer, p = producer
        guard c >= 0, c <= p, p &- c <= maxEntries else { return ["ring positions consumer \(c), producer \(p) are inconsistent"] }
        var position = c
        while position < p {
            guard let (size, _) = ringRecord(at: position, end: p) else { return ["ring record at position \(position) is malformed"] }
            position = position &+ roundUp(size + Self.ringHeaderBytes, 8)
        }
        return []
    }
}

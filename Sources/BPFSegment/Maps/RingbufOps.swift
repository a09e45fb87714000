import Glibc

/// One ring of records: `size` bytes of records, each an 8-byte header (length with busy and
/// discard bits, offset of the header) and its data padded to 8, with consumer and producer
/// positions (u64 each) at `positions`. The kernel maps the data twice so a record may wrap;
/// here a record that would wrap is preceded by a discarded padding record. A ringbuf map is one
/// ring; a perf_event_array map holds one per CPU (`MapStore.perfRing`).
struct Ring {
    static let busyBit: UInt32 = 1 << 31, discardBit: UInt32 = 1 << 30
    static let headerBytes = 8
    static let availableData: UInt64 = 0, ringSize: UInt64 = 1, consumerPosition: UInt64 = 2, producerPosition: UInt64 = 3

    let positions: UnsafeMutableRawPointer
    let data: UnsafeMutableRawPointer
    /// A power of two.
    let size: Int

    private var mask: Int { size - 1 }
    var consumer: Int { positions.offset(0) }
    var producer: Int { positions.offset(8) }

    /// Room for `count` data bytes, marked busy; nil when the ring has no room. The producer
    /// position moves last, in one store: a crash before it leaves the ring as it was.
    func reserve(_ count: Int) -> UnsafeMutableRawPointer? {
        let total = roundUp(count + Self.headerBytes, 8)
        guard count >= 0, count < Int(Self.discardBit), total <= size else { return nil }
        var position = producer
        let used = position &- consumer
        guard used >= 0, used <= size else { return nil }
        var offset = position & mask
        let padding = offset + total > size ? size - offset : 0
        guard used + padding + total <= size else { return nil }
        if padding > 0 {
            data.set32(offset, UInt32(padding - Self.headerBytes) | Self.discardBit)
            data.set32(offset + 4, UInt32(offset))
            position = position &+ padding
            offset = 0
        }
        data.set32(offset, UInt32(count) | Self.busyBit)
        data.set32(offset + 4, UInt32(offset))
        orderStores()
        positions.set64(8, UInt64(truncatingIfNeeded: position &+ total))
        return data + offset + Self.headerBytes
    }

    /// Commits (or discards) a reserved record; -EINVAL for a pointer that is not one.
    func finish(_ record: UnsafeMutableRawPointer, discard: Bool) -> Int32 {
        let offset = record - data - Self.headerBytes
        guard offset >= 0, offset < size, offset % 8 == 0, Int(data.u32(offset + 4)) == offset else { return -EINVAL }
        let word = data.u32(offset)
        guard word & Self.busyBit != 0 else { return -EINVAL }
        data.set32(offset, (word & ~Self.busyBit) | (discard ? Self.discardBit : 0))
        return 0
    }

    /// Copies `count` bytes in as one record; -EAGAIN when the ring has no room.
    func output(_ bytes: UnsafeRawPointer, count: Int) -> Int32 {
        guard let slot = reserve(count) else { return -EAGAIN }
        slot.copyMemory(from: bytes, byteCount: count)
        return finish(slot, discard: false)
    }

    func query(_ flags: UInt64) -> UInt64 {
        switch flags {
        case Self.availableData: UInt64(max(producer &- consumer, 0))
        case Self.ringSize: UInt64(size)
        case Self.consumerPosition: UInt64(max(consumer, 0))
        case Self.producerPosition: UInt64(max(producer, 0))
        default: 0
        }
    }

    /// Submitted records from the consumer position on, stopping at a busy one, and the
    /// position after the last one returned.
    func records(limit: Int) -> (records: [[UInt8]], end: Int) {
        var records: [[UInt8]] = []
        var position = consumer
        let end = producer
        while position < end, records.count < limit, let (count, flags) = record(at: position, end: end) {
            if flags & Self.busyBit != 0 { break }
            if flags & Self.discardBit == 0 {
                let offset = (position & mask) + Self.headerBytes
                records.append(Array(UnsafeRawBufferPointer(start: data + offset, count: count)))
            }
            position = position &+ roundUp(count + Self.headerBytes, 8)
        }
        return (records, position)
    }

    /// A record's data size and flag bits, if its header is sane.
    private func record(at position: Int, end: Int) -> (Int, UInt32)? {
        let offset = position & mask
        guard offset + Self.headerBytes <= size else { return nil }
        let word = data.u32(offset)
        let count = Int(word & ~(Self.busyBit | Self.discardBit))
        guard Int(data.u32(offset + 4)) == offset, offset + roundUp(count + Self.headerBytes, 8) <= size,
              position &+ roundUp(count + Self.headerBytes, 8) <= end else { return nil }
        return (count, word & (Self.busyBit | Self.discardBit))
    }

    func problems() -> [String] {
        let c = consumer, p = producer
        guard c >= 0, c <= p, p &- c <= size else { return ["ring positions consumer \(c), producer \(p) are inconsistent"] }
        var position = c
        while position < p {
            guard let (count, _) = record(at: position, end: p) else { return ["ring record at position \(position) is malformed"] }
            position = position &+ roundUp(count + Self.headerBytes, 8)
        }
        return []
    }
}

/// ringbuf maps: one ring of max_entries bytes, its positions in the map's state.
extension MapStore {
    var ring: Ring { Ring(positions: base + storage + MapLayout.consumerAt, data: entries, size: maxEntries) }

    func reserve(_ size: Int) -> UnsafeMutableRawPointer? { ring.reserve(size) }
    func finish(_ data: UnsafeMutableRawPointer, discard: Bool) -> Int32 { ring.finish(data, discard: discard) }
    func output(_ data: UnsafeRawPointer, size: Int) -> Int32 { ring.output(data, count: size) }
    func query(_ flags: UInt64) -> UInt64 { ring.query(flags) }
    func readRecords(limit: Int, consume: Bool) -> [[UInt8]] { read(ring, limit: limit, consume: consume) }

    /// `ring`'s submitted records; `consume` moves its consumer past them, through the journal.
    func read(_ ring: Ring, limit: Int, consume: Bool) -> [[UInt8]] {
        let (records, end) = ring.records(limit: limit)
        if consume, end != ring.consumer {
            save(ring.positions, 8)
            ring.positions.set64(0, UInt64(truncatingIfNeeded: end))
        }
        return records
    }
}

/// perf_event_array maps: one ring per CPU (`layout.cpus` of them), in the entries.
extension MapStore {
    func perfRing(_ cpu: Int) -> Ring {
        let start = entries + cpu * entryStride
        return Ring(positions: start, data: start + 16, size: entryStride - 16)
    }

    /// `bpf_perf_event_output` into the ring of `index`: -E2BIG past max_entries, -ENOENT for
    /// an index with no ring (no such CPU), -ENOSPC when the ring is full, as the kernel's
    /// perf output answers then.
    func perfOutput(index: Int, _ data: UnsafeRawPointer, size: Int) -> Int32 {
        guard index >= 0, index < maxEntries else { return -E2BIG }
        guard index < layout.cpus else { return -ENOENT }
        let result = perfRing(index).output(data, count: size)
        return result == -EAGAIN ? -ENOSPC : result
    }
}

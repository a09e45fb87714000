import BPFModel
import Glibc

/// Operations on one map's storage. Callers hold the segment lock (lookups excepted, see `SegmentMap`)
/// and commit the journal afterwards; results are kernel-style: 0 or a negative errno.
/// A class: helper calls reach it on every map operation and must not copy its layout.
final class MapStore {
    let base: UnsafeMutableRawPointer
    let layout: MapLayout
    let journal: Journal
    /// Off while filling a map that nothing reaches yet: there is nothing to undo. (Changed only
    /// under the segment lock: exempt from dynamic exclusivity checks, read on every write.)
    @exclusivity(unchecked) var journaling = true
    let storage: Int
    let entries: UnsafeMutableRawPointer
    let keySize: Int
    let valueSize: Int
    let maxEntries: Int
    let entryStride: Int
    /// Hash kinds: the bucket array, its index mask, and where a key and a value sit in an
    /// entry, kept as plain fields so that a lookup's path is a few instructions long (lookups
    /// of independent keys then overlap their cache misses).
    let buckets: UnsafeMutableRawPointer
    let bucketMask: Int
    let keyOffset: Int
    let valueOffset: Int
    let isLRU: Bool

    init(base: UnsafeMutableRawPointer, layout: MapLayout, journal: Journal) {
        self.base = base
        self.layout = layout
        self.journal = journal
        storage = layout.storage
        entries = base + layout.storage + layout.entriesAt
        keySize = layout.keySize
        valueSize = layout.valueSize
        maxEntries = layout.maxEntries
        entryStride = layout.entryStride
        buckets = base + layout.storage + layout.bucketsAt
        bucketMask = max(layout.bucketCount, 1) - 1
        keyOffset = layout.keyOffsetInEntry
        valueOffset = layout.valueOffsetInEntry
        isLRU = layout.kind == .lruHash || layout.kind == .lruPercpuHash
    }

    static let any: UInt64 = 0, noExist: UInt64 = 1, exist: UInt64 = 2

    // MARK: State fields and the journal

    @inline(__always) func state(_ field: Int) -> Int { base.offset(storage + field) }
    @inline(__always) func setState(_ field: Int, _ value: Int) { base.set64(storage + field, UInt64(truncatingIfNeeded: value)) }
    var count: Int { state(MapLayout.countAt) }
    /// The count as far as it can be trusted for sizing buffers.
    var boundedCount: Int { max(0, min(count, maxEntries)) }

    /// Frozen maps refuse writes from userspace (the tool); programs still write.
    var isFrozen: Bool { base.u32(storage + MapLayout.frozenAt) != 0 }
    /// Only a restore or an import of a frozen map's state sets it back to false.
    func setFrozen(_ frozen: Bool) {
        guard frozen != isFrozen else { return }
        save(storage + MapLayout.frozenAt, 4)
        base.set32(storage + MapLayout.frozenAt, frozen ? 1 : 0)
    }

    /// The program-written mark, raised when a program is handed a writable value pointer.
    @inline(__always) var programWrites: ProgramWriteMark { ProgramWriteMark(base + storage + MapLayout.programWrittenAt) }

    /// Logs the whole mutable state once per mutation: one entry instead of one per field.
    @inline(__always) func saveState() { save(storage + MapLayout.stateAt, MapLayout.stateBytes) }
    @inline(__always) func save(_ offset: Int, _ bytes: Int) { if journaling { journal.save(offset, bytes) } }
    @inline(__always) func save(_ pointer: UnsafeMutableRawPointer, _ bytes: Int) { save(pointer - base, bytes) }

    // MARK: Values

    /// Copies a value in: all CPUs' values packed back to back (`cpu == nil`, userspace) or
    /// only `cpu`'s slot (program semantics).
    @inline(__always) func writeValue(_ slot: UnsafeMutableRawPointer, _ value: UnsafeRawPointer, cpu: Int?) {
        if layout.cpus == 1 {
            copyBytes(slot, value, valueSize)
        } else if let cpu {
            copyBytes(slot + cpu * layout.valueStride, value, valueSize)
        } else {
            for c in 0..<layout.cpus {
                copyBytes(slot + c * layout.valueStride, value + c * valueSize, valueSize)
            }
        }
    }

    /// Copies every CPU's value out, packed.
    @inline(__always) func readValue(_ slot: UnsafeRawPointer, into out: UnsafeMutableRawPointer) {
        for c in 0..<layout.cpus {
            copyBytes(out + c * valueSize, slot + c * layout.valueStride, valueSize)
        }
    }

    @inline(__always) func validCPU(_ cpu: Int?) -> Bool {
        guard let cpu else { return true }
        return slot(forCPU: cpu) != nil
    }

    // MARK: Dispatch

    /// The value slot a lookup for `cpu` reads: its own on per-CPU maps, the only one
    /// otherwise; nil for a CPU the map has no slot for.
    @inline(__always) func slot(forCPU cpu: Int) -> Int? {
        guard cpu >= 0, cpu < layout.cpus || layout.cpus == 1 else { return nil }
        return layout.cpus == 1 ? 0 : cpu
    }

    @inline(__always) func lookup(_ key: UnsafeRawPointer, cpu: Int) -> UnsafeMutableRawPointer? {
        guard let slotCPU = slot(forCPU: cpu) else { return nil }
        switch layout.kind {
        case .hash, .percpuHash, .lruHash, .lruPercpuHash, .stackTrace: return hashLookup(key, cpu: slotCPU)
        case .array, .percpuArray, .progArray: return arrayLookup(key, cpu: slotCPU)
        case .queue, .stack, .ringbuf, .perfEventArray: return nil
        }
    }

    @inline(__always) func update(_ key: UnsafeRawPointer?, _ value: UnsafeRawPointer, flags: UInt64, cpu: Int?) -> Int32 {
        guard validCPU(cpu) else { return -EINVAL }
        switch layout.kind {
        case .hash, .percpuHash, .lruHash, .lruPercpuHash, .stackTrace:
            guard let key else { return -EINVAL }
            return hashUpdate(key, value, flags: flags, cpu: cpu)
        case .array, .percpuArray, .progArray:
            guard let key else { return -EINVAL }
            return arrayUpdate(key, value, flags: flags, cpu: cpu)
        case .queue, .stack: return push(value, flags: flags)
        case .ringbuf, .perfEventArray: return -EOPNOTSUPP
        }
    }

    func delete(_ key: UnsafeRawPointer) -> Int32 {
        switch layout.kind {
        case .hash, .percpuHash, .lruHash, .lruPercpuHash, .stackTrace: return hashDelete(key)
        case .array, .percpuArray, .progArray: return arrayDelete(key)
        case .queue, .stack, .ringbuf, .perfEventArray: return -EINVAL
        }
    }

    func nextKey(after key: UnsafeRawPointer?, into out: UnsafeMutableRawPointer) -> Int32 {
        switch layout.kind {
        case .hash, .percpuHash, .lruHash, .lruPercpuHash, .stackTrace: return hashNextKey(after: key, into: out)
        case .array, .percpuArray, .progArray: return arrayNextKey(after: key, into: out)
        case .queue, .stack, .ringbuf, .perfEventArray: return -EINVAL
        }
    }
}

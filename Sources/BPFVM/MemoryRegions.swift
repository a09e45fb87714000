/// A span of host memory a program may access besides its stack and input: map values returned
/// by helpers, global variables, ring-buffer records. `[low, high)`; `writable` is 0 or 1.
public struct MemoryRegion: Sendable {
    public var low: UInt64
    public var high: UInt64
    public var writable: UInt64

    public init(low: UInt64, high: UInt64, writable: Bool) {
        self.low = low
        self.high = high
        self.writable = writable ? 1 : 0
    }
}

/// Per-run state shared by the interpreter, generated code and helpers (the helpers' context
/// pointer points here). Plain 8-byte fields so generated code can use
/// `MemoryLayout<RunState>.offset(of:)`.
public struct RunState {
    /// The stack of the active frames: `[stackLow, stackHigh)`; `stackLow` moves with local calls.
    public var stackLow: UInt64
    public var stackHigh: UInt64
    /// The input buffer (r1, r2), writable.
    public var inputLow: UInt64
    public var inputHigh: UInt64
    /// Granted regions, newest last; the first `permanentRegionCount` live across runs (globals).
    public var regions: UnsafeMutablePointer<MemoryRegion>
    public var regionCount: Int
    public var regionCapacity: Int
    public var permanentRegionCount: Int
    /// Non-zero after a helper call when the run must not simply continue (see `Attention`).
    public var attention: UInt64
    /// Local-call depth of the running frame (0 = the program's entry frame).
    public var callDepth: Int
    /// `bpf_get_attach_cookie`'s value for this run.
    public var cookie: UInt64
    /// Tail calls taken in this run.
    public var tailCallCount: Int
    /// The VM's helper environment (`Unmanaged<HelperEnvironment>`).
    public var environment: UnsafeMutableRawPointer
    /// What `bpf_override_return` / `bpf_set_retval` asked the hooked function to return, valid
    /// when `returnOverridden` is 1 (the caller decides whether the hook may honour it).
    public var returnOverride: UInt64 = 0
    public var returnOverridden: UInt64 = 0

    public enum Attention {
        /// A helper faulted; the run ends with the helper's error.
        public static let fault: UInt64 = 1
        /// `bpf_tail_call` succeeded; the run continues at the start of the new program.
        public static let tailCall: UInt64 = 2
    }

    /// Resets the per-run fields for a run of the entry frame on `input`, with `readable` granted.
    @inlinable @inline(__always)
    mutating func begin(input: UnsafeMutableRawBufferPointer, cookie: UInt64, readable: UnsafeRawBufferPointer?) {
        inputLow = UInt64(UInt(bitPattern: input.baseAddress))
        inputHigh = inputLow &+ UInt64(input.count)
        self.cookie = cookie
        regionCount = permanentRegionCount
        attention = 0
        tailCallCount = 0
        callDepth = 0
        returnOverridden = 0
        if let readable { grant(readable) }
        stackLow = stackHigh &- UInt64(BPF.stackFrameSize)
    }

    /// Whether `[address, address + size)` lies inside memory the program may read (or write).
    @inline(__always)
    public func allows(_ address: UInt64, _ size: UInt64, write: Bool) -> Bool {
        if Self.within(address, size, stackLow, stackHigh) || Self.within(address, size, inputLow, inputHigh) {
            return true
        }
        return grantedRegionAllows(address, size, write: write)
    }

    @inline(__always)
    static func within(_ address: UInt64, _ size: UInt64, _ low: UInt64, _ high: UInt64) -> Bool {
        let offset = address &- low, span = high &- low
        return offset <= span && span &- offset >= size
    }

    /// The slow path: granted regions, newest first (the usual hit is the last lookup's value).
    public func grantedRegionAllows(_ address: UInt64, _ size: UInt64, write: Bool) -> Bool {
        var i = regionCount
        while i > 0 {
            i -= 1
            let region = regions[i]
            if Self.within(address, size, region.low, region.high) {
                if !write || region.writable != 0 { return true }
            }
        }
        return false
    }

    /// Lets the program use `[low, high)` until the run ends. Only the newest transient region
    /// is compared (a program handed the same value again and again adds nothing), so that the
    /// JIT's inline lookups grant exactly as this does; a full table drops its older half of
    /// transient entries, so a value stays usable for at least the run's next 127 grants.
    @inline(__always)
    public mutating func grant(low: UInt64, high: UInt64, writable: Bool) {
        if regionCount > permanentRegionCount {
            let newest = regions[regionCount &- 1]
            if newest.low == low && newest.high == high && (newest.writable != 0) == writable { return }
        }
        if regionCount == regionCapacity {
            dropOlderHalf()
            guard regionCount < regionCapacity else { return }
        }
        regions[regionCount] = MemoryRegion(low: low, high: high, writable: writable)
        regionCount += 1
    }

    private mutating func dropOlderHalf() {
        let transient = regionCount - permanentRegionCount
        let keep = transient / 2
        let base = regions + permanentRegionCount
        base.update(from: base + (transient - keep), count: keep)
        regionCount = permanentRegionCount + keep
    }
}

/// `allows` for generated code: `(state, address, size, write) -> 1 when allowed, else 0`.
public let runStateAccessCheck: @convention(c) (UnsafeMutableRawPointer?, UInt64, UInt64, UInt64) -> UInt64 = {
    state, address, size, write in
    guard let state else { return 0 }
    return state.assumingMemoryBound(to: RunState.self).pointee.allows(address, size, write: write != 0) ? 1 : 0
}

extension RunState {
    /// How many of the `limit` bytes from `address` the program may read, within one region.
    func readableLength(from address: UInt64, upTo limit: UInt64) -> UInt64 {
        guard limit > 0 else { return 0 }
        var best: UInt64 = 0
        func consider(_ low: UInt64, _ high: UInt64) {
            let offset = address &- low, span = high &- low
            if offset < span { best = max(best, min(span - offset, limit)) }
        }
        consider(stackLow, stackHigh)
        consider(inputLow, inputHigh)
        for i in 0 ..< regionCount { consider(regions[i].low, regions[i].high) }
        return best
    }

    /// The NUL-terminated string at `address` (without the NUL), when it lies in readable memory.
    func readString(at address: UInt64, max: UInt64) -> [UInt8]? {
        let length = readableLength(from: address, upTo: max)
        guard length > 0, let start = UnsafeRawPointer(bitPattern: UInt(truncatingIfNeeded: address)) else { return nil }
        let bytes = UnsafeRawBufferPointer(start: start, count: Int(length))
        guard let end = bytes.firstIndex(of: 0) else { return nil }
        return Array(bytes[..<end])
    }

    /// Lets the program read `memory` for the rest of the run (nothing for an empty buffer).
    @usableFromInline
    mutating func grant(_ memory: UnsafeRawBufferPointer) {
        guard let base = memory.baseAddress, memory.count > 0 else { return }
        let low = UInt64(UInt(bitPattern: base))
        grant(low: low, high: low &+ UInt64(memory.count), writable: false)
    }

    /// Withdraws the granted region starting at `low` (a submitted ring-buffer record).
    mutating func revoke(low: UInt64) {
        var i = regionCount
        while i > permanentRegionCount {
            i -= 1
            if regions[i].low == low {
                (regions + i).update(from: regions + i + 1, count: regionCount - i - 1)
                regionCount -= 1
                return
            }
        }
    }
}

extension RunState {
    /// Adds a region that stays granted across runs (a global variable map value), ahead of the
    /// transient ones. Fails when the table has no room left for transient regions.
    mutating func addPermanent(low: UInt64, high: UInt64, writable: Bool) -> Bool {
        for i in 0 ..< permanentRegionCount where regions[i].low == low && regions[i].high == high {
            if writable { regions[i].writable = 1 }
            return true
        }
        guard permanentRegionCount < regionCapacity / 2 else { return false }
        if regionCount == regionCapacity { regionCount -= 1 }
        let at = regions + permanentRegionCount
        (at + 1).update(from: at, count: regionCount - permanentRegionCount)
        at.pointee = MemoryRegion(low: low, high: high, writable: writable)
        permanentRegionCount += 1
        regionCount += 1
        return true
    }
}

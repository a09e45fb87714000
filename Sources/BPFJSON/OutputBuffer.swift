/// A growable byte buffer on raw memory: the writer's output chunk, and the reader's
/// destination for decoded map keys and values (appending through a pointer, no per-byte checks).
///
/// Its fields are exempt from exclusivity checks: the writer's and the map reader's per-byte code
/// is inlined into other modules, where the optimizer cannot prove those class fields are not
/// accessed overlapping and would check every access at run time (a bpftime export of 1M
/// entries took 2.6x as long). Nothing here hands out an `inout` to them.
public final class OutputBuffer {
    @exclusivity(unchecked) @usableFromInline var base: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) @usableFromInline var used = 0
    @exclusivity(unchecked) @usableFromInline var capacity: Int

    /// Where the bytes start (moves when the buffer grows).
    @inlinable public var start: UnsafeMutablePointer<UInt8> { base }
    /// How many bytes it holds.
    @inlinable public var count: Int { used }

    public init(capacity: Int = 1 << 16) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// Room for `n` more bytes; returns where they go (the caller then calls `didWrite(n)`).
    @inlinable @inline(__always) public func reserve(_ n: Int) -> UnsafeMutablePointer<UInt8> {
        if used + n > capacity { grow(to: used + n) }
        return base + used
    }

    @inlinable @inline(__always) public func didWrite(_ n: Int) { used += n }

    @usableFromInline func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        bigger.update(from: base, count: used)
        base.deallocate()
        base = bigger
        capacity = newCapacity
    }

    @inlinable @inline(__always) public func byte(_ b: UInt8) {
        reserve(1).pointee = b
        used += 1
    }

    @inlinable @inline(__always) public func bytes(_ s: StaticString) {
        let n = s.utf8CodeUnitCount
        reserve(n).update(from: s.utf8Start, count: n)
        used += n
    }

    @inlinable @inline(__always) public func bytes(_ p: UnsafeRawBufferPointer) {
        guard let src = p.baseAddress, p.count > 0 else { return }
        reserve(p.count).update(from: src.assumingMemoryBound(to: UInt8.self), count: p.count)
        used += p.count
    }

    public func bytes(_ s: String) {
        var s = s
        s.withUTF8 { bytes(UnsafeRawBufferPointer($0)) }
    }

    @inlinable @inline(__always) public func spaces(_ n: Int) {
        reserve(n).update(repeating: UInt8(ascii: " "), count: n)
        used += n
    }

    /// An integer in decimal, as nlohmann writes it.
    @inlinable @inline(__always) public func decimal<T: BinaryInteger>(_ v: T) {
        if v < 0 { byte(UInt8(ascii: "-")) }
        var m = UInt64(v.magnitude)
        var digits = 1
        var rest = m
        while rest >= 10 {
            rest /= 10
            digits += 1
        }
        let dst = reserve(digits)
        var i = digits
        repeat {
            i -= 1
            dst[i] = UInt8(ascii: "0") + UInt8(m % 10)
            m /= 10
        } while m != 0
        used += digits
    }

    /// `count` bytes from `src` as lowercase hex.
    @inlinable @inline(__always) public func hex(_ src: UnsafePointer<UInt8>, count n: Int) {
        let dst = reserve(2 * n)
        for i in 0..<n {
            let b = src[i]
            dst[2 * i] = HexDigits.lowerDigit(b >> 4)
            dst[2 * i + 1] = HexDigits.lowerDigit(b & 0xf)
        }
        used += 2 * n
    }

    public func removeAll() { used = 0 }

    public var contents: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: start, count: count) }

    public func toArray() -> [UInt8] { Array(UnsafeBufferPointer(start: start, count: count)) }
}

/// A growable byte buffer on raw memory: the writer's output chunk, and the reader's
/// destination for decoded map keys and values (appending through a pointer, no per-byte checks).
package final class OutputBuffer {
    @usableFromInline package internal(set) var start: UnsafeMutablePointer<UInt8>
    @usableFromInline package internal(set) var count = 0
    @usableFromInline var capacity: Int

    package init(capacity: Int = 1 << 16) {
        self.capacity = max(capacity, 16)
        start = .allocate(capacity: self.capacity)
    }

    deinit { start.deallocate() }

    /// Room for `n` more bytes; returns where they go (the caller then calls `didWrite(n)`).
    @inlinable package func reserve(_ n: Int) -> UnsafeMutablePointer<UInt8> {
        if count + n > capacity { grow(to: count + n) }
        return start + count
    }

    @inlinable package func didWrite(_ n: Int) { count += n }

    @usableFromInline func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        bigger.update(from: start, count: count)
        start.deallocate()
        start = bigger
        capacity = newCapacity
    }

    @inlinable package func byte(_ b: UInt8) {
        reserve(1).pointee = b
        count += 1
    }

    @inlinable package func bytes(_ s: StaticString) {
        let n = s.utf8CodeUnitCount
        reserve(n).update(from: s.utf8Start, count: n)
        count += n
    }

    @inlinable package func bytes(_ p: UnsafeRawBufferPointer) {
        guard let src = p.baseAddress, p.count > 0 else { return }
        reserve(p.count).update(from: src.assumingMemoryBound(to: UInt8.self), count: p.count)
        count += p.count
    }

    package func bytes(_ s: String) {
        var s = s
        s.withUTF8 { bytes(UnsafeRawBufferPointer($0)) }
    }

    @inlinable package func spaces(_ n: Int) {
        reserve(n).update(repeating: UInt8(ascii: " "), count: n)
        count += n
    }

    /// An integer in decimal, as nlohmann writes it.
    @inlinable package func decimal<T: BinaryInteger>(_ v: T) {
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
        count += digits
    }

    /// `count` bytes from `src` as lowercase hex.
    @inlinable package func hex(_ src: UnsafePointer<UInt8>, count n: Int) {
        let dst = reserve(2 * n)
        HexDigits.lower.withUnsafeBufferPointer { digits in
            for i in 0..<n {
                dst[2 * i] = digits[Int(src[i] >> 4)]
                dst[2 * i + 1] = digits[Int(src[i] & 0xf)]
            }
        }
        count += 2 * n
    }

    package func removeAll() { count = 0 }

    package var contents: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: start, count: count) }

    package func toArray() -> [UInt8] { Array(UnsafeBufferPointer(start: start, count: count)) }
}

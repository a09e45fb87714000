#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The order of map entries in a document: by key bytes, which is also the bytewise order of
/// their lowercase hex strings (how nlohmann sorts object keys).
enum KeyOrder {
    /// Indices of `count` keys of `keySize` bytes at `keys`, sorted by key.
    static func sorted(keys: UnsafePointer<UInt8>, keySize: Int, count: Int) -> [Int] {
        guard keySize <= 4, count <= Int(UInt32.max) else {
            var order = Array(0..<count)
            order.sort { compare(keys, $0, $1, keySize) < 0 }
            return order
        }
        // Short keys (the common 4-byte case): sort (key << 32 | index) words, far faster.
        var packed = [UInt64](unsafeUninitializedCapacity: count) { buf, initialized in
            for i in 0..<count {
                var k: UInt64 = 0
                for b in 0..<keySize { k = k << 8 | UInt64(keys[i * keySize + b]) }
                buf[i] = k << (32 + 8 * (4 - keySize)) | UInt64(i)
            }
            initialized = count
        }
        packed.sort()
        return packed.map { Int($0 & 0xffff_ffff) }
    }

    @inline(__always)
    static func compare(_ keys: UnsafePointer<UInt8>, _ a: Int, _ b: Int, _ keySize: Int) -> Int32 {
        memcmp(keys + a * keySize, keys + b * keySize, keySize)
    }
}

import Crypto

/// SHA-256, the content address of everything the store deduplicates: a thin streaming wrapper
/// over swift-crypto's (BoringSSL's assembly on Linux), so the store's call sites stay short.
///
/// A collision here would silently alias two states, so a real cryptographic hash rather than a
/// fast checksum.
struct SHA256 {
    private var hasher = Crypto.SHA256()

    init() {}

    static func hash(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var h = SHA256()
        h.update(bytes)
        return h.finalize()
    }

    mutating func update(_ bytes: some Collection<UInt8>) {
        if let done = bytes.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) {
            return done
        }
        Array(bytes).withUnsafeBytes { update($0) }
    }

    mutating func update<T: FixedWidthInteger>(littleEndian value: T) {
        withUnsafeBytes(of: value.littleEndian) { update($0) }
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
    }

    mutating func finalize() -> [UInt8] {
        Array(hasher.finalize())
    }
}

import Dispatch

extension SHA256 {
    static let pieceSize = 1 << 20

    /// Hashes `count` independent items on every core; `hash(i)` must only read shared data.
    static func concurrently(_ count: Int, _ hash: @Sendable (Int) -> [UInt8]) -> [[UInt8]] {
        var digests = [[UInt8]](repeating: [], count: count)
        digests.withUnsafeMutableBufferPointer { out in
            // Shared by the iterations, each of which writes only its own element.
            nonisolated(unsafe) let out = out
            DispatchQueue.concurrentPerform(iterations: count) { out[$0] = hash($0) }
        }
        return digests
    }

    /// A fingerprint of big buffers: SHA-256 over their lengths and the SHA-256s of their 1 MiB
    /// pieces, the pieces hashed on every core.
    static func fingerprint(_ header: [UInt64], _ buffers: [[UInt8]]) -> [UInt8] {
        let pieces = buffers.indices.flatMap { b in
            stride(from: 0, to: buffers[b].count, by: pieceSize).map { (b, $0) }
        }
        let digests = concurrently(pieces.count) { i in
            let (b, start) = pieces[i]
            return buffers[b].withUnsafeBytes { all in
                var h = SHA256()
                h.update(UnsafeRawBufferPointer(rebasing: all[start ..< min(start + pieceSize, all.count)]))
                return h.finalize()
            }
        }
        var h = SHA256()
        for value in header + buffers.map({ UInt64($0.count) }) { h.update(littleEndian: value) }
        for digest in digests { h.update(digest) }
        return h.finalize()
    }
}

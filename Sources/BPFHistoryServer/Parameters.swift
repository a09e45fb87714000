import BPFModel
import Foundation

/// A request's query (or form) parameters, parsed with 400 answers for anything malformed.
struct Parameters {
    let values: [String: String]

    init(_ values: [String: String]) { self.values = values }

    func string(_ name: String) -> String? { values[name].flatMap { $0.isEmpty ? nil : $0 } }

    func required(_ name: String) throws -> String {
        guard let v = string(name) else { throw BrowseError.badRequest("missing parameter '\(name)'") }
        return v
    }

    /// An integer in `range`, or `fallback` when absent.
    func int(_ name: String, in range: ClosedRange<Int>, default fallback: Int? = nil) throws -> Int {
        guard let text = string(name) else {
            guard let fallback else { throw BrowseError.badRequest("missing parameter '\(name)'") }
            return fallback
        }
        guard let v = Int(text), range.contains(v) else {
            throw BrowseError.badRequest("parameter '\(name)' must be an integer from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return v
    }

    /// A map key as stored: hex (a `0x` prefix, or exactly two digits per key byte), else a
    /// decimal integer written little-endian in `size` bytes. Queue and stack maps (`size` 0) are
    /// keyed by position: a decimal index, or its 4 stored bytes (big-endian) in hex.
    static func key(_ text: String, size: Int) throws -> [UInt8] {
        let stored = size == 0 ? 4 : size
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let hex = trimmed.hasPrefix("0x") ? String(trimmed.dropFirst(2)) : trimmed
        if trimmed.hasPrefix("0x") || hex.count == stored * 2, let bytes = Hex.decode(hex) {
            guard bytes.count == stored else { throw BrowseError.badRequest("key \(text): \(bytes.count) bytes, the map takes \(stored)") }
            return bytes
        }
        guard let number = UInt64(trimmed) else {
            throw BrowseError.badRequest("key \(text): neither hex (\(stored * 2) digits or 0x...) nor a decimal integer")
        }
        guard stored >= 8 || number >> (8 * UInt64(stored)) == 0 else {
            throw BrowseError.badRequest("key \(text): does not fit in \(stored) bytes")
        }
        let little = (0 ..< stored).map { i in i < 8 ? UInt8(truncatingIfNeeded: number >> (8 * UInt64(i))) : 0 }
        return size == 0 ? little.reversed() : little
    }
}

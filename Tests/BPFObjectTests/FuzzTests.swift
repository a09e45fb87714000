import BPFObject
import TestSupport
import Foundation
import Testing

/// Mutated versions of the compiled examples: every one is either read or refused with an
/// `ObjectError`; none traps (a trap would end the test process).
@Suite(.enabled(if: ExampleCompiler.clang != nil, Comment(rawValue: ExampleCompiler.skipReason)))
struct FuzzTests {
    /// One mutation: flipped bytes, a truncation, or a header/table field set to an extreme.
    static func mutate(_ original: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var bytes = original
        switch rng.next() % 4 {
        case 0:
            for _ in 0 ..< 1 + Int(rng.next() % 8) { bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1) }
        case 1:
            bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))
        case 2:
            // A 4- or 8-byte field anywhere set to 0, all ones, or a value just past the file.
            let width = rng.next() % 2 == 0 ? 4 : 8
            let at = Int(rng.next() % UInt64(bytes.count - width))
            let value: UInt64 = [0, .max, UInt64(bytes.count), UInt64(bytes.count) - 1, 0x7fff_ffff][Int(rng.next() % 5)]
            for i in 0 ..< width { bytes[at + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
        default:
            // Damage the section header table, where offsets and sizes live.
            let table = Int(bytes[0x28]) | Int(bytes[0x29]) << 8 | Int(bytes[0x2a]) << 16
            guard table < bytes.count else { break }
            for _ in 0 ..< 1 + Int(rng.next() % 4) {
                let at = table + Int(rng.next() % UInt64(bytes.count - table))
                bytes[at] = UInt8(truncatingIfNeeded: rng.next())
            }
        }
        return bytes
    }

    @Test func mutatedObjectsAreReadOrRefused() throws {
        var rng = SplitMix64(seed: 0x10ad_0b1e)
        var refused = 0, read = 0
        for name in ExampleCompiler.all {
            let original = [UInt8](try Data(contentsOf: ExampleCompiler.compile(name)))
            for _ in 0 ..< 400 {
                let bytes = Self.mutate(original, &rng)
                do {
                    let object = try BPFObject(bytes: bytes, fileName: "\(name).bpf.o", possibleCPUs: 2)
                    // What was read can be turned into handlers.
                    _ = object.records(mapFDs: Array(3 ..< 3 + object.maps.count), programFDs: Array(100 ..< 100 + object.programs.count))
                    read += 1
                } catch {
                    #expect(!(error as ObjectError).description.isEmpty)
                    refused += 1
                }
            }
        }
        // Both outcomes happen: the mutations reach past the header checks, and break things.
        #expect(refused > 200 && read > 200, "refused \(refused), read \(read)")
    }
}

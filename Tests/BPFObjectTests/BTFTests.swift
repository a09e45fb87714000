import Testing
@testable import BPFObject

/// Hand-made `.BTF` sections: references that loop or dangle are errors, not hangs or traps.
@Suite struct BTFTests {
    /// A `.BTF` section holding `types` (each 12 bytes: name, info, size/type) and no names.
    static func section(_ types: [(kind: UInt32, reference: UInt32)]) -> [UInt8] {
        func u32(_ v: UInt32) -> [UInt8] { (0 ..< 4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        let typeBytes = types.flatMap { u32(0) + u32($0.kind << 24) + u32($0.reference) }
        return [0x9f, 0xeb, 1, 0] + u32(24) + u32(0) + u32(UInt32(typeBytes.count)) + u32(UInt32(typeBytes.count)) + u32(1)
            + typeBytes + [0]
    }

    @Test func recursiveTypesAreRefused() throws {
        let selfReference = try BTF(Self.section([(8, 1)]))                  // typedef 1 -> 1
        #expect(throws: ObjectError.self) { try selfReference.size(1) }
        let cycle = try BTF(Self.section([(10, 2), (9, 1)]))                 // const -> volatile -> const
        do {
            _ = try cycle.size(1)
            Issue.record("a cycle has no size")
        } catch {
            #expect(error.description.contains("refers to itself"))
        }
    }

    @Test func danglingAndTruncatedTypesAreRefused() throws {
        let dangling = try BTF(Self.section([(8, 7)]))                                   // typedef -> missing type 7
        #expect(throws: ObjectError.self) { try dangling.size(1) }
        // An array record without its 12 bytes of element type, index type and count.
        #expect(throws: ObjectError.self) { try BTF(Self.section([(3, 0)])) }
    }
}

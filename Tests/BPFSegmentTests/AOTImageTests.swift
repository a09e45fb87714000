@testable import BPFSegment
import BPFModel
import Testing

extension SegmentTests {
    /// Native code stored beside a program's bytecode: an opaque blob the segment keeps as it is.
    @Suite struct AOTImageTests {
        static func program(_ fd: Int, image: [UInt8]?) -> HandlerRecord {
            HandlerRecord(fd: fd, handler: .program(ProgramHandler(
                name: "prog", type: 2, bytecode: ApplyTests.exit, attachments: [.init(targetFD: 5, cookie: 42)], aotImage: image)))
        }
        static let image = (0..<4123).map { UInt8(truncatingIfNeeded: $0 &* 7) }

        @Test func roundTripsAndReplaces() throws {
            try withSegment { segment in
                try segment.apply(ApplyTests.state())
                #expect(try segment.handler(at: 4) == Self.program(4, image: nil).handler)
                let before = segment.status()
                let generation = try segment.apply([Self.program(4, image: Self.image)], replaceExisting: true)
                #expect(generation > before.generation)
                #expect(try segment.handler(at: 4) == Self.program(4, image: Self.image).handler)
                #expect(segment.status().tableGeneration > before.tableGeneration)
                // An empty image is kept as empty, not as absent.
                try segment.apply([Self.program(4, image: [])], replaceExisting: true)
                #expect(try segment.handler(at: 4) == Self.program(4, image: []).handler)
                try segment.apply([Self.program(4, image: nil)], replaceExisting: true)
                #expect(try segment.handler(at: 4) == Self.program(4, image: nil).handler)
                #expect(segment.status().usedBytes == before.usedBytes, "the image's block is freed with its record")
                #expect(segment.check() == [])
            }
        }

        /// A program record written before AOT existed ends after its attachments.
        @Test func recordsWithoutAnImageStillDecode() throws {
            var old = ByteWriter()
            old.string("prog")
            old.u32(2)
            old.bytes(ApplyTests.exit)
            old.u64(0)
            let decoded = try old.bytes.withUnsafeBytes { try HandlerCodec.decode(kind: .program, $0) }
            #expect(decoded == .program(ProgramHandler(name: "prog", type: 2, bytecode: ApplyTests.exit)))
            #expect(HandlerCodec.encode(decoded) == old.bytes)
            var truncated = HandlerCodec.encode(Self.program(4, image: Self.image).handler)
            truncated.removeLast()
            #expect(throws: CodecError.self) { try truncated.withUnsafeBytes { try HandlerCodec.decode(kind: .program, $0) } }
        }

        @Test func refusedReplaceKeepsTheOldRecord() throws {
            try withSegment(sizeMB: 2, maxHandlers: 64) { segment in
                try segment.apply(ApplyTests.state())
                let read = segment.tableGeneration
                try segment.apply([mapRecord(30, .array)]) // another process changes the table meanwhile
                let before = try segment.records(includeContents: true), status = segment.status()
                #expect(throws: SegmentError.tableChanged(name: segment.name)) {
                    try segment.apply([Self.program(4, image: Self.image)], replaceExisting: true, ifTableGeneration: read)
                }
                let dangling = HandlerRecord(fd: 20, handler: .link(LinkHandler(programFD: 4, targetFD: 99)))
                #expect(throws: SegmentError.danglingReference(fd: 20, field: "target_fd", target: 99)) {
                    try segment.apply([Self.program(4, image: Self.image), dangling], replaceExisting: true)
                }
                let huge = [UInt8](repeating: 0xcc, count: 3 << 20)
                #expect(throws: SegmentError.self) { try segment.apply([Self.program(4, image: huge)], replaceExisting: true) }
                #expect(try segment.records(includeContents: true) == before)
                #expect(segment.status() == status)
                #expect(segment.check() == [])
                try segment.apply([Self.program(4, image: Self.image)], replaceExisting: true, ifTableGeneration: segment.tableGeneration)
                #expect(try segment.handler(at: 4) == Self.program(4, image: Self.image).handler)
            }
        }
    }
}

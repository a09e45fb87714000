import Testing
import BPFModel
@testable import BPFInterchange

/// Native code travels as `"aot_insns"` in a program's `attr`, only when there is some.
@Suite struct AOTInstructionsTests {
    static let exit: [UInt8] = [0x95, 0, 0, 0, 0, 0, 0, 0]

    @Test func writtenFirstInAttrAndReadBack() throws {
        let program = ProgramHandler(name: "p", type: 2, bytecode: Self.exit, attachments: [.init(targetFD: 5)],
                                     aotImage: [0x42, 0x50, 0x46, 0xc3])
        let written = text(BPFTimeJSON.encodeHandler(.program(program), includeData: true))
        #expect(written == """
            {
                "attr": {
                    "aot_insns": "425046c3",
                    "attach_fds": [
                        5
                    ],
                    "cnt": 1,
                    "insns": "9500000000000000",
                    "type": 2
                },
                "name": "p",
                "type": "bpf_prog_handler"
            }
            """)
        #expect(try BPFTimeJSON.decodeHandler(fd: 4, Array(written.utf8)) == .program(program))
        var empty = program
        empty.aotImage = []
        let emptyText = BPFTimeJSON.encodeHandler(.program(empty), includeData: true)
        #expect(text(emptyText).contains("\"aot_insns\": \"\","))
        #expect(try BPFTimeJSON.decodeHandler(fd: 4, emptyText) == .program(empty))
    }

    /// bpftime's files have no aot_insns: they read as programs without native code, written
    /// back without the field (FixtureTests checks they come back byte for byte).
    @Test func absentMeansNone() throws {
        let fixture = try Fixtures.bytes("malloc.json")
        let records = try BPFTimeJSON.decodeDocument(fixture)
        let programs = records.compactMap { if case .program(let p) = $0.handler { p } else { nil } }
        #expect(!programs.isEmpty)
        #expect(programs.allSatisfy { $0.aotImage == nil })
        #expect(!text(BPFTimeJSON.encodeDocument(records, includeData: true)).contains("aot_insns"))
    }

    @Test func badHexIsRefusedNamingTheField() {
        func document(_ value: String) -> String {
            #"{"5": {"type": "bpf_prog_handler", "name": "p", "attr": {"insns": "9500000000000000", "aot_insns": "# + value + "}}}"
        }
        #expect(decodeError(document(#""abc""#))?.description == "fd 5: attr.aot_insns: odd-length hex (3 digits)")
        #expect(decodeError(document(#""zz""#))?.description == "fd 5: attr.aot_insns: non-hex character")
        #expect(decodeError(document("null"))?.description == "fd 5: attr.aot_insns: expected a hex string, got null")
    }
}

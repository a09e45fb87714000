import Testing
@testable import BPFVM

@Suite struct DisassemblerTests {
    /// Each form the conformance syntax has, printed exactly.
    @Test(arguments: [
        "mov %r0, 0", "mov32 %r1, -3", "add32 %r0, %r1", "sub %r2, 7", "mul %r3, %r4", "div32 %r0, 2",
        "sdiv %r0, -2", "smod32 %r1, %r2", "mod %r1, 3", "or %r1, %r2", "and32 %r1, 255", "lsh %r1, 4",
        "rsh32 %r1, %r2", "arsh %r1, 63", "xor %r5, %r6", "neg %r1", "neg32 %r2",
        "movsx832 %r0, %r1", "movsx1632 %r0, %r1", "movsx864 %r0, %r1", "movsx1664 %r0, %r1", "movsx3264 %r0, %r1",
        "le16 %r0", "le32 %r0", "le64 %r0", "be16 %r0", "be32 %r0", "be64 %r0", "bswap16 %r0", "bswap32 %r0", "bswap64 %r0",
        "ldxb %r0, [%r1+0]", "ldxh %r0, [%r1+2]", "ldxw %r0, [%r1-4]", "ldxdw %r0, [%r1+8]",
        "ldxsb %r0, [%r1+0]", "ldxsh %r0, [%r1+2]", "ldxsw %r0, [%r1+4]",
        "stb [%r10-1], 7", "sth [%r10-2], -1", "stw [%r10-4], 5", "stdw [%r10-8], 9",
        "stxb [%r10-1], %r1", "stxh [%r10-2], %r1", "stxw [%r10-4], %r1", "stxdw [%r10-8], %r1",
        "lock add [%r10-8], %r1", "lock fetch add32 [%r10-4], %r1", "lock or [%r10-8], %r1", "lock fetch and [%r10-8], %r1",
        "lock xor32 [%r10-4], %r2", "lock xchg [%r10-8], %r1", "lock cmpxchg32 [%r10-8], %r1",
        "ja +3", "ja -1", "ja32 +70000", "jeq %r1, 0, +3", "jne %r1, %r2, -2", "jgt32 %r1, 5, +1", "jsle32 %r1, %r2, +0",
        "jset %r1, 8, +1", "jslt %r1, -1, +4", "jge %r1, %r2, +1", "jle %r1, 1, +1", "jlt32 %r1, %r2, +1", "jsge %r1, 2, +1",
        "jsgt %r1, %r3, +1",
        "call 1", "call local +3", "call %r2", "exit",
        "lddw %r1, 0x1122334455667788", "lddw %r1, map_fd 3", "lddw %r1, map_value 3+8",
    ])
    func printsTheConformanceSyntax(_ text: String) throws {
        let ins = try TestAssembler.assemble(text)
        #expect(Disassembler.text(of: ins[0], next: ins.count > 1 ? ins[1] : nil) == text)
    }

    /// Every instruction of every conformance program disassembles to text that assembles back
    /// to the same bytes.
    @Test func roundTripsTheConformancePrograms() throws {
        var checked = 0
        for c in try loadCases("conformance/conformance.jsonl") {
            let program = try Program(bytecode: bytes(hex: c.insns_hex))
            var index = 0
            while index < program.instructions.count {
                let text = Disassembler.text(of: program, at: index)
                let slots = program.instructions[index].isWide ? 2 : 1
                let original = Array(program.instructions[index ..< min(index + slots, program.instructions.count)])
                #expect(try TestAssembler.assemble(text) == original, "\(c.name) #\(index): \(text)")
                index += slots
                checked += 1
            }
        }
        #expect(checked > 2000)  // 313 programs; guards against checking nothing
    }

    @Test func unknownOpcodesAreNamed() {
        #expect(Disassembler.text(of: Instruction(opcode: 0xff)) == "unknown 0xff")
        #expect(Disassembler.text(of: Instruction(opcode: 0x20)) == "unknown 0x20")
        #expect(Disassembler.text(of: Instruction(opcode: 0xdb, imm: 0x33)) == "unknown 0xdb")
    }

    @Test func listingShowsIndexBytesAndText() throws {
        let program = try TestAssembler.program("lddw %r0, 0x100000002\nexit")
        #expect(Disassembler.listing(of: program) == """
            0: 18 00 00 00 02 00 00 00  lddw %r0, 0x100000002
            1: 00 00 00 00 01 00 00 00
            2: 95 00 00 00 00 00 00 00  exit
            """)
    }
}

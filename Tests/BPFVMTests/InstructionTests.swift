import Testing
@testable import BPFVM

@Suite struct InstructionTests {
    @Test func decodesLittleEndianSlots() throws {
        // stxdw [%r10-8], %r1 then lddw %r2, 0x1122334455667788
        let program = try Program(bytecode: [0x7b, 0x1a, 0xf8, 0xff, 0, 0, 0, 0,
                                             0x18, 0x02, 0, 0, 0x88, 0x77, 0x66, 0x55,
                                             0, 0, 0, 0, 0x44, 0x33, 0x22, 0x11])
        let first = program.instructions[0]
        #expect(first.opcode == 0x7b && first.dst == 10 && first.src == 1 && first.offset == -8 && first.imm == 0)
        #expect(program.instructions[1].imm == 0x5566_7788)
        #expect(program.instructions[2].imm == 0x1122_3344)
        #expect(program.wideImmediate(at: 1) == 0x1122_3344_5566_7788)
        #expect(program.wideImmediate(at: 0) == nil)
        #expect(program.wideImmediate(at: 2) == nil)
        #expect(program.bytecode.count == 24)
        #expect(try Program(bytecode: program.bytecode) == program)
    }

    @Test func negativeImmediateAndFieldAccessors() {
        let ins = Instruction(opcode: 0x07, dst: 3, imm: -3)
        #expect(ins.bytes == [0x07, 0x03, 0, 0, 0xfd, 0xff, 0xff, 0xff])
        #expect(ins.instructionClass == BPF.classALU64 && ins.operation == BPF.add && !ins.usesRegisterSource)
        #expect(Instruction(opcode: 0x85, src: 1, imm: 2).isLocalCall)
        #expect(!Instruction(opcode: 0x85, imm: 2).isLocalCall)
    }

    @Test func rejectsMalformedBytecode() {
        #expect(throws: VMError(.malformed, "the program is empty")) { try Program(bytecode: []) }
        #expect(throws: VMError(.malformed, "the bytecode is 12 bytes, not a multiple of 8")) {
            try Program(bytecode: [UInt8](repeating: 0, count: 12))
        }
    }

    @Test func errorDescriptionNamesTheInstruction() {
        let error = VMError(.rejected, "r10 is read-only", index: 3, instruction: "mov %r10, 1")
        #expect(error.description == "instruction 3 (mov %r10, 1): r10 is read-only")
        #expect(VMError(.rejected, "too big").description == "too big")
    }
}

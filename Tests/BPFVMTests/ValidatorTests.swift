import TestSupport
import Testing
import BPFModel
@testable import BPFVM

/// The validator's message for `program`, or nil when it accepts it.
func rejection(_ program: Program, maps: MapBackend? = nil, maxInstructions: Int = Validator.defaultMaxInstructions) -> String? {
    do {
        try Validator(helpers: .standard(), maps: maps, maxInstructions: maxInstructions).validate(program)
        return nil
    } catch {
        return "\(error)"
    }
}

func rejection(_ text: String, maps: MapBackend? = nil) throws -> String? {
    rejection(try TestAssembler.program(text), maps: maps)
}

@Suite struct ValidatorTests {
    @Test func acceptsAWellFormedProgram() throws {
        #expect(try rejection("mov %r0, 1\njeq %r0, 1, +1\nja +0\ncall 5\nexit") == nil)
    }

    @Test func r10IsReadOnly() throws {
        #expect(try rejection("mov %r0, 0\nmov %r1, 0\nmov %r2, 0\nmov %r10, 1\nexit")
            == "instruction 3 (mov %r10, 1): r10 is read-only")
        #expect(try rejection("add32 %r10, 1\nexit") == "instruction 0 (add32 %r10, 1): r10 is read-only")
        #expect(try rejection("ldxdw %r10, [%r1+0]\nexit") == "instruction 0 (ldxdw %r10, [%r1+0]): r10 is read-only")
        #expect(try rejection("lddw %r10, 0x1\nexit") == "instruction 0 (lddw %r10, 0x1): r10 is read-only")
        #expect(try rejection("lock fetch add [%r1+0], %r10\nexit") == "instruction 0 (lock fetch add [%r1+0], %r10): r10 is read-only")
        // Storing r10 and storing through it are fine.
        #expect(try rejection("stxdw [%r10-8], %r10\nlock add [%r10-8], %r10\nexit") == nil)
    }

    @Test func registersAbove10AreRejected() {
        #expect(rejection(Program(instructions: [Instruction(opcode: 0xb7, dst: 11), Instruction(opcode: 0x95)]))
            == "instruction 0 (mov %r11, 0): invalid destination register r11")
        #expect(rejection(Program(instructions: [Instruction(opcode: 0xbf, dst: 0, src: 12), Instruction(opcode: 0x95)]))
            == "instruction 0 (mov %r0, %r12): invalid source register r12")
    }

    @Test(arguments: [0x00, 0x20, 0x28, 0x40, 0x60, 0xec, 0xe7, 0x0d, 0x86, 0x96, 0x8e, 0xe5, 0xa1, 0x63 | 0x80, 0x02] as [UInt8])
    func unknownOpcodesAreRejected(_ opcode: UInt8) {
        let message = rejection(Program(instructions: [Instruction(opcode: opcode), Instruction(opcode: 0x95)]))
        #expect(message?.hasPrefix("instruction 0 (") == true)
        #expect(message?.contains("unknown opcode 0x") == true, "\(message ?? "accepted")")
    }

    @Test func fieldsMustMatchTheOperation() {
        func check(_ ins: Instruction, _ reason: String) {
            let message = rejection(Program(instructions: [ins, Instruction(opcode: 0x95)]))
            #expect(message?.hasSuffix(reason) == true, "\(message ?? "accepted")")
        }
        check(Instruction(opcode: 0xd4, imm: 8), "invalid byte-swap width 8")
        check(Instruction(opcode: 0xdf, imm: 16), "unknown opcode 0xdf")          // bswap has no register form
        check(Instruction(opcode: 0x8f), "unknown opcode 0x8f")                   // neg has no register form
        check(Instruction(opcode: 0x3f, offset: 2), "invalid offset 2 for division")
        check(Instruction(opcode: 0xbc, offset: 32), "invalid sign-extension width 32")
        check(Instruction(opcode: 0xb7, offset: 8), "invalid sign-extension width 8")  // movsx needs a register
        check(Instruction(opcode: 0x07, offset: 1), "invalid offset 1 for an arithmetic instruction")
        check(Instruction(opcode: 0xdb, imm: 0x02), "unknown atomic operation 0x2")
    }

    @Test func jumpTargetsStayInsideTheProgram() throws {
        #expect(try rejection("ja +5\nexit") == "instruction 0 (ja +5): jump target 6 is outside the program")
        #expect(try rejection("mov %r0, 0\njeq %r0, 0, -3\nexit") == "instruction 1 (jeq %r0, 0, -3): jump target -1 is outside the program")
        #expect(try rejection("ja32 +2\nexit") == "instruction 0 (ja32 +2): jump target 3 is outside the program")
        #expect(try rejection("call local +9\nexit") == "instruction 0 (call local +9): call target 10 is outside the program")
    }

    @Test func jumpsMayNotLandInsideAnLddw() throws {
        #expect(try rejection("ja +1\nlddw %r0, 0x1\nexit") == "instruction 0 (ja +1): jump target 2 is the second half of an lddw")
        #expect(try rejection("call local +1\nlddw %r0, 0x1\nexit")
            == "instruction 0 (call local +1): call target 2 is the second half of an lddw")
    }

    @Test func noFallThroughPastTheEnd() throws {
        #expect(try rejection("mov %r0, 0") == "instruction 0 (mov %r0, 0): execution can fall through past the end of the program")
        #expect(try rejection("exit\nlddw %r0, 0x5")
            == "instruction 1 (lddw %r0, 0x5): execution can fall through past the end of the program")
        #expect(try rejection("mov %r0, 0\nja -2") == nil)
    }

    @Test func helperIdsMustBeKnown() throws {
        #expect(try rejection("call 99\nexit") == "instruction 0 (call 99): unknown helper 99")
        #expect(try rejection("call 0\nexit") == "instruction 0 (call 0): unknown helper 0")
        #expect(try rejection("call -1\nexit") == "instruction 0 (call -1): unknown helper -1")
        #expect(rejection(Program(instructions: [Instruction(opcode: 0x85, src: 2, imm: 1), Instruction(opcode: 0x95)]))
            == "instruction 0 (call runtime 1): unsupported call kind (src=2)")
        #expect(try rejection("call 1\ncall 174\nexit") == nil)
    }

    @Test func lddwNeedsAWellFormedSecondSlot() {
        let truncated = Program(instructions: [Instruction(opcode: 0x95), Instruction(opcode: 0x18, imm: 1)])
        #expect(rejection(truncated) == "instruction 1 (lddw %r0, 0x1): lddw is missing its second slot")
        let bad = Program(instructions: [Instruction(opcode: 0x18), Instruction(opcode: 0x07), Instruction(opcode: 0x95)])
        #expect(rejection(bad) == "instruction 0 (lddw %r0, 0x0): malformed second slot of lddw")
        let source3 = Program(instructions: [Instruction(opcode: 0x18, src: 3), Instruction(opcode: 0), Instruction(opcode: 0x95)])
        #expect(rejection(source3) == "instruction 0 (lddw %r0, 0x0): unsupported lddw source 3")
    }

    @Test func mapPseudoLoadsResolveThroughTheBackend() throws {
        let maps = SegmentMaps()
        maps.addMap(fd: 3, MapInfo(kind: .hash, keySize: 4, valueSize: 8, maxEntries: 4))
        maps.addMap(fd: 4, MapInfo(kind: .array, keySize: 4, valueSize: 16, maxEntries: 1))
        #expect(try rejection("lddw %r1, map_fd 3\nexit", maps: maps) == nil)
        #expect(try rejection("lddw %r1, map_fd 7\nexit", maps: maps) == "instruction 0 (lddw %r1, map_fd 7): map fd 7 does not exist")
        #expect(try rejection("lddw %r1, map_fd 3\nexit") == "instruction 0 (lddw %r1, map_fd 3): map fd 3 cannot be resolved: no maps are available")
        #expect(try rejection("lddw %r1, map_value 4+8\nexit", maps: maps) == nil)
        #expect(try rejection("lddw %r1, map_value 4+16\nexit", maps: maps)
            == "instruction 0 (lddw %r1, map_value 4+16): offset 16 is outside map fd 4's 16-byte value")
        #expect(try rejection("lddw %r1, map_value 3+0\nexit", maps: maps)
            == "instruction 0 (lddw %r1, map_value 3+0): map fd 3 has no global value")
    }

    @Test func programSizeIsLimited() throws {
        let program = try TestAssembler.program(String(repeating: "mov %r0, 0\n", count: 10) + "exit")
        #expect(rejection(program, maxInstructions: 10) == "the program has 11 instructions, more than the limit of 10")
        #expect(rejection(program, maxInstructions: 11) == nil)
    }

    @Test func theVirtualMachineValidatesBeforeRunning() throws {
        let error = failure("mov %r10, 1\nexit")
        #expect(error?.kind == .rejected && error?.index == 0)
    }
}

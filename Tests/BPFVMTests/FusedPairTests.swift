import Testing
import BPFModel
@testable import BPFVM

/// The interpreter runs some pairs of slots as one step (`InterpreterOperation.fused`); each pair
/// must behave as its two instructions one after the other, on both engines.
@Suite struct FusedPairTests {
    /// The operation the interpreter dispatches on at `index`, so each test shows it runs a pair.
    func operation(_ vm: TestMachine, at index: Int) -> InterpreterOperation { vm.interpreter.entry.code[index].operation }

    @Test func theLoopLatchAndTheLoadAccumulateAreFused() throws {
        let vm = try TestMachine(program: try TestAssembler.program("""
            mov %r0, 0
            mov %r3, %r1
            ldxdw %r5, [%r3]
            add %r0, %r5
            add %r3, 8
            jne %r3, %r4, -4
            sub %r2, 1
            jne %r2, 0, +0
            exit
            """))
        #expect(operation(vm, at: 2) == .load64Add64X)
        #expect(operation(vm, at: 4) == .add64KJneX)
        #expect(operation(vm, at: 6) == .sub64KJneK)
        // The second slots keep their own operations: a jump may land on them.
        #expect(operation(vm, at: 3) == .add64X)
        #expect(operation(vm, at: 5) == .jneX)
        #expect(operation(vm, at: 7) == .jneK)
        #expect(operation(try TestMachine(program: try TestAssembler.program("add %r1, 1\njne %r1, 5, -2\nexit")), at: 0) == .add64KJneK)
        #expect(operation(try TestMachine(program: try TestAssembler.program("sub %r1, 1\njne %r1, %r2, -2\nexit")), at: 0) == .sub64KJneX)
    }

    @Test func aLoopOverTheInputSumsItsWords() throws {
        let words: [UInt64] = [1, 0xffff_ffff_ffff_ffff, 0x1234_5678_9abc_def0, 7]
        let memory = words.flatMap { w in (0 ..< 8).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) } }
        let program = """
            mov %r0, 0
            mov %r3, %r1
            mov %r4, %r1
            add %r4, %r2
            ldxdw %r5, [%r3]
            add %r0, %r5
            add %r3, 8
            jne %r3, %r4, -4
            exit
            """
        #expect(try execute(program, memory: memory).r0 == words.reduce(0, &+))
    }

    /// With every budget short of the whole run, `source` stops at the same instruction, with the
    /// same count, as it would one slot at a time (`slots`: the slots so executed, in order): also
    /// between the two slots of the pair at `pair.at`. The whole budget returns `result`.
    func expectEveryBudget(_ source: String, slots: [Int], pair: (at: Int, operation: InterpreterOperation),
                           result: UInt64) throws {
        let program = try TestAssembler.program(source)
        let texts = source.split(separator: "\n").map(String.init)
        for budget in 1 ..< slots.count {
            let vm = try TestMachine(program: program, options: VMOptions(maxInstructions: UInt64(budget)))
            #expect(operation(vm, at: pair.at) == pair.operation)
            let stop = slots[budget]
            #expect(throws: VMError(.budgetExceeded, "instruction budget of \(budget) exceeded", index: stop, instruction: texts[stop])) {
                try run(vm)
            }
            #expect(vm.executedInstructions == UInt64(budget))
        }
        let whole = try TestMachine(program: program, options: VMOptions(maxInstructions: UInt64(slots.count)))
        #expect(try run(whole) == result)
        #expect(whole.executedInstructions == UInt64(slots.count))
    }

    @Test func aBudgetRunningOutInsideAPairNamesItsSecondSlot() throws {
        try expectEveryBudget("mov %r1, 3\nsub %r1, 1\njne %r1, 0, -2\nmov %r0, 2\nexit",
                              slots: [0, 1, 2, 1, 2, 1, 2, 3, 4], pair: (1, .sub64KJneK), result: 2)
        try expectEveryBudget("mov %r2, 7\nmov %r1, %r2\nrsh %r1, 1\nmov %r0, %r1\nexit",
                              slots: [0, 1, 2, 3, 4], pair: (1, .mov64XRsh64K), result: 3)
    }

    @Test func aJumpOntoTheSecondSlotRunsOnlyThatSlot() throws {
        // Slot 3 (jne) is the second of the pair at 2: entered by the jump, the add must not run.
        let vm = try TestMachine(program: try TestAssembler.program("""
            mov %r0, 0
            mov %r1, 2
            ja +1
            add %r1, 10
            jne %r1, 2, +1
            mov %r0, 1
            exit
            """))
        #expect(operation(vm, at: 3) == .add64KJneK)
        #expect(try run(vm) == 1)
    }

    @Test func aForwardJumpOntoAPairRunsBothSlots() throws {
        // fnv1a's shape: the jlt skips an add and lands on the loop latch, a fused pair.
        let vm = try TestMachine(program: try TestAssembler.program("""
            mov %r0, 0
            mov %r3, 0
            mov %r5, %r3
            jlt %r5, 2, +1
            add %r0, 1
            add %r3, 1
            jne %r3, 4, -5
            exit
            """))
        #expect(operation(vm, at: 5) == .add64KJneK)
        #expect(try run(vm) == 2)   // r3 = 2 and 3 reach the add
    }

    @Test func aCopyOffsetOrShiftedInPlaceIsFused() throws {
        let x: UInt64 = 0x1234_5678_9abc_def0
        let vm = try TestMachine(program: try TestAssembler.program("""
            lddw %r1, 0x123456789abcdef0
            mov %r2, %r1
            rsh %r2, 32
            mov %r3, %r1
            add %r3, -16
            mov %r4, %r1
            add %r5, 1
            mov %r6, %r1
            rsh %r1, 4
            mov %r0, %r2
            add %r0, %r3
            add %r0, %r4
            add %r0, %r6
            exit
            """))
        #expect(operation(vm, at: 2) == .mov64XRsh64K)
        #expect(operation(vm, at: 3) == .rsh64K)
        #expect(operation(vm, at: 4) == .mov64XAdd64K)
        #expect(operation(vm, at: 5) == .add64K)
        // Another register's add or shift after the copy: not a pair.
        #expect(operation(vm, at: 6) == .mov64X)
        #expect(operation(vm, at: 8) == .mov64X)
        #expect(try run(vm) == (x >> 32) &+ (x &- 16) &+ x &+ x)
    }

    @Test func aMultiplyAccumulateOnOneRegisterIsFused() throws {
        let vm = try TestMachine(program: try TestAssembler.program("""
            mov %r1, 7
            mov %r2, 5
            mul %r1, 31
            add %r1, %r2
            mul %r2, 3
            add %r2, %r2
            mul %r2, 3
            add %r1, %r2
            ja +1
            mul %r2, 1000
            add %r2, %r1
            mov %r0, %r2
            exit
            """))
        #expect(operation(vm, at: 2) == .mul64KAdd64X)
        #expect(operation(vm, at: 4) == .mul64KAdd64X)
        // Another register's add after the multiply: not a pair. A jump onto the add runs only it.
        #expect(operation(vm, at: 6) == .mul64K)
        #expect(operation(vm, at: 9) == .mul64KAdd64X)
        #expect(operation(vm, at: 10) == .add64X)
        #expect(try run(vm) == 5 * 3 * 2 * 3 * 2 + (7 * 31 + 5))   // r2 = 90, then r1 = 222 + 90
        try expectEveryBudget("mov %r1, 7\nmov %r2, 5\nmul %r1, 31\nadd %r1, %r2\nmov %r0, %r1\nexit",
                              slots: [0, 1, 2, 3, 4, 5], pair: (2, .mul64KAdd64X), result: 7 * 31 + 5)
    }

    @Test func aJumpOntoTheShiftOfACopyRunsOnlyTheShift() throws {
        let vm = try TestMachine(program: try TestAssembler.program("""
            mov %r1, 256
            mov %r2, 5
            ja +1
            mov %r1, %r2
            rsh %r1, 4
            mov %r0, %r1
            exit
            """))
        #expect(operation(vm, at: 3) == .mov64XRsh64K)
        #expect(try run(vm) == 16)
    }

    @Test func aFaultingLoadOfAPairStopsBeforeTheAdd() throws {
        let memory = [UInt8](repeating: 1, count: 8)
        // Four bytes past the start: the 8-byte load straddles the input's end.
        let program = "mov %r0, 5\nldxdw %r2, [%r1+4]\nadd %r0, %r2\nexit"
        let error = failure(program, memory: memory)
        #expect(error?.kind == .memoryViolation)
        #expect(error?.index == 1)
        #expect(error?.reason.hasPrefix("read of 8 bytes at 0x") == true)
        #expect(try execute("mov %r0, 5\nldxdw %r2, [%r1]\nadd %r0, %r2\nexit", memory: memory).r0 == 5 &+ 0x0101_0101_0101_0101)
        // The last whole word is in; one byte before the input, or any word of an empty input, is not.
        let sixteen = [UInt8](repeating: 2, count: 16)
        #expect(try execute("mov %r0, 0\nldxdw %r2, [%r1+8]\nadd %r0, %r2\nexit", memory: sixteen).r0 == 0x0202_0202_0202_0202)
        #expect(failure("mov %r0, 0\nldxdw %r2, [%r1-1]\nadd %r0, %r2\nexit", memory: sixteen)?.index == 1)
        #expect(failure("mov %r0, 0\nldxdw %r2, [%r1]\nadd %r0, %r2\nexit")?.kind == .memoryViolation)
    }
}

import Testing
import BPFModel
@testable import BPFVM

/// A conditional jump (JMP or JMP32) over one add or move (64- or 32-bit) runs as one
/// branch-free step (`.jumpOver…`), its condition read from the opcode (`JumpCondition`): it must
/// decide exactly as the jump itself, and leave exactly what the skippable slot would.
extension FusedPairTests {
    static let conditional = ["jeq", "jgt", "jge", "jne", "jsgt", "jsge", "jlt", "jle", "jslt", "jsle"]
    /// Values either side of every boundary the compares have: zero, the signed extremes, all ones.
    static let values: [UInt64] = [0, 1, 2, 127, 128, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x1_0000_0000,
                                   0x7fff_ffff_ffff_ffff, 0x8000_0000_0000_0000, 0x8000_0000_0000_0001,
                                   0xffff_ffff_ffff_fffe, .max]

    /// `jump` (reading r3 and r4 from the input's two words) over `mov %r0, 12`, fused, or over
    /// `or %r0, 12`, which no pair takes: the jump then runs as itself. r0 starts at 0.
    func machines(_ jump: String) throws -> (fused: TestMachine, plain: TestMachine) {
        func machine(_ skippable: String) throws -> TestMachine {
            try TestMachine(program: try TestAssembler.program("""
                ldxdw %r3, [%r1]
                ldxdw %r4, [%r1+8]
                mov %r0, 0
                \(jump)
                \(skippable) %r0, 12
                exit
                """))
        }
        let pair = (fused: try machine("mov"), plain: try machine("or"))
        #expect(operation(pair.fused, at: 3) == .jumpOverMovK)
        #expect(operation(pair.plain, at: 3) == InterpreterOperation(opcode: pair.plain.interpreter.entry.code[3].opcode))
        return pair
    }

    func words(_ x: UInt64, _ y: UInt64) -> [UInt8] {
        (0 ..< 16).map { UInt8(truncatingIfNeeded: ($0 < 8 ? x : y) >> (8 * ($0 % 8))) }
    }

    @Test func everyJumpOverOneDecidesAsTheJumpItself() throws {
        for name in Self.conditional + Self.conditional.map({ $0 + "32" }) {
            let register = try machines("\(name) %r3, %r4, +1")
            for x in Self.values {
                for y in Self.values {
                    let plain = try run(register.plain, words(x, y))
                    #expect(try run(register.fused, words(x, y)) == plain, "\(name) \(x), \(y)")
                }
            }
            for k in [0, 1, -1, 128, Int64(Int32.max), Int64(Int32.min)] {
                let immediate = try machines("\(name) %r3, \(k), +1")
                for x in Self.values {
                    let plain = try run(immediate.plain, words(x, 0))
                    #expect(try run(immediate.fused, words(x, 0)) == plain, "\(name) \(x), \(k)")
                }
            }
        }
    }

    @Test func theSkippedAddOrMoveRunsOnlyWhenTheJumpFallsThrough() throws {
        // r1 counts the values under 5 (add), r2 keeps the greatest (mov from a register), r0 says
        // whether the last one was 3 (mov of an immediate); each jump skips one slot.
        let program = """
            mov %r1, 0
            mov %r2, 0
            mov %r6, %r5
            jge %r6, 5, +1
            add %r1, 1
            jge %r2, %r6, +1
            mov %r2, %r6
            mov %r0, 0
            jne %r6, 3, +1
            mov %r0, 1
            add %r5, 1
            jne %r5, 9, -10
            lsh %r1, 8
            lsh %r2, 16
            or %r0, %r1
            or %r0, %r2
            exit
            """
        let vm = try TestMachine(program: try TestAssembler.program("mov %r5, 2\n" + program))
        #expect(operation(vm, at: 4) == .jumpOverAdd64K)
        #expect(operation(vm, at: 6) == .jumpOverMovX)
        #expect(operation(vm, at: 9) == .jumpOverMovK)
        // r5 = 2...8: 2, 3 and 4 are under 5, 8 is the greatest, the last is not 3.
        #expect(try run(vm) == 8 << 16 | 3 << 8 | 0)
        let three = try TestMachine(program: try TestAssembler.program("mov %r5, 3\n" + program.replacingOccurrences(of: "jne %r5, 9", with: "jne %r5, 4")))
        #expect(try run(three) == 3 << 16 | 1 << 8 | 1)
    }

    @Test func whatClangEmitsForMaximumAndCompareRunsFused() throws {
        // clang -target bpf -O2 (cpu v3): `return a > b ? a : b` and `return a < b` on ints and longs.
        let maximum = try TestMachine(program: try TestAssembler.program("""
            ldxdw %r2, [%r1+8]
            ldxdw %r1, [%r1]
            mov32 %r0, %r1
            jsgt32 %r0, %r2, +1
            mov32 %r0, %r2
            exit
            """))
        let less = try TestMachine(program: try TestAssembler.program("""
            ldxdw %r2, [%r1+8]
            ldxdw %r1, [%r1]
            mov32 %r0, 1
            jslt %r1, %r2, +1
            mov32 %r0, 0
            exit
            """))
        #expect(operation(maximum, at: 3) == .jumpOverMovX)
        #expect(operation(less, at: 3) == .jumpOverMovK)
        for x in Self.values {
            for y in Self.values {
                let greatest = max(Int32(truncatingIfNeeded: x), Int32(truncatingIfNeeded: y))
                #expect(try run(maximum, words(x, y)) == UInt64(UInt32(bitPattern: greatest)))
                #expect(try run(less, words(x, y)) == (Int64(bitPattern: x) < Int64(bitPattern: y) ? 1 : 0))
            }
        }
    }

    @Test func aSkippable32BitAddWrapsAndClearsTheUpperHalf() throws {
        let vm = try TestMachine(program: try TestAssembler.program("""
            ldxdw %r3, [%r1]
            lddw %r0, 0x1ffffffff
            jeq %r3, 0, +1
            add32 %r0, 1
            exit
            """))
        #expect(operation(vm, at: 3) == .jumpOverAdd32K)
        #expect(try run(vm, words(1, 0)) == 0)
        #expect(try run(vm, words(0, 0)) == 0x1_ffff_ffff)
    }

    @Test func onlyACompareJumpingOverOneAddOrMoveIsFused() throws {
        func fused(_ source: String) throws -> InterpreterOperation {
            operation(try TestMachine(program: try TestAssembler.program(source + "\nexit\nexit\nexit")), at: 0)
        }
        #expect(try fused("jlt %r1, 5, +1\nadd %r0, 1") == .jumpOverAdd64K)
        #expect(try fused("jlt32 %r1, 5, +1\nadd %r0, 1") == .jumpOverAdd64K)
        #expect(try fused("jne %r1, %r2, +1\nadd32 %r0, -1") == .jumpOverAdd32K)
        #expect(try fused("jsle %r1, %r2, +1\nmov %r0, %r2") == .jumpOverMovX)
        #expect(try fused("jge32 %r1, %r2, +1\nmov32 %r0, %r2") == .jumpOverMovX)
        #expect(try fused("jle %r1, %r1, +1\nmov %r1, 1") == .jumpOverMovK)
        #expect(try fused("jlt %r1, 5, +2\nadd %r0, 1") == .jltK)
        #expect(try fused("jset %r1, 5, +1\nadd %r0, 1") == .jsetK)
        #expect(try fused("jset32 %r1, %r2, +1\nmov %r0, 1") == .jset32X)
        #expect(try fused("ja +1\nadd %r0, 1") == .ja)
        #expect(try fused("jlt %r1, 5, +1\nsub %r0, 1") == .jltK)
        #expect(try fused("jlt %r1, 5, +1\nadd %r0, %r1") == .jltK)
        #expect(try fused("jlt %r1, 5, +1\nmovsx864 %r0, %r1") == .jltK)
    }

    @Test func aJumpOntoTheSkippableSlotRunsOnlyThatSlot() throws {
        let vm = try TestMachine(program: try TestAssembler.program("""
            mov %r0, 1
            ja +2
            mov %r0, 100
            jne %r0, 1, +1
            add %r0, 10
            exit
            """))
        #expect(operation(vm, at: 3) == .jumpOverAdd64K)
        #expect(operation(vm, at: 4) == .add64K)
        #expect(try run(vm) == 11)
    }

    @Test func aBudgetRunningOutAtTheSkippableSlotNamesIt() throws {
        // The add at 3 runs for r1 = 0 and 1 and is skipped for r1 = 2: a skipped slot is not counted.
        try expectEveryBudget("mov %r1, 0\nmov %r0, 0\njgt %r1, 1, +1\nadd %r0, 1\nadd %r1, 1\njne %r1, 3, -4\nexit",
                              slots: [0, 1, 2, 3, 4, 5, 2, 3, 4, 5, 2, 4, 5, 6], pair: (2, .jumpOverAdd64K), result: 2)
    }
}

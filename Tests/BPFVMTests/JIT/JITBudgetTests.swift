import TestSupport
import Testing
@testable import BPFVM

/// The JIT charges the budget once per straight-line block and finishes a block the budget cannot
/// cover in an exactly counted copy (JITCompiler+Budget): under every budget, a run ends as on
/// the interpreter, with the same stores done, the same error at the same instruction and the
/// same executed count.
@Suite struct JITBudgetTests {
    struct Case: CustomStringConvertible {
        let name: String
        let text: String
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "stores in one block, budget running out between them",
             text: "stb [%r1+0], 1\nstb [%r1+1], 2\nstb [%r1+2], 3\nstb [%r1+3], 4\nmov %r0, 7\nexit"),
        Case(name: "fault in the middle of a block (charged ahead, given back)",
             text: "stb [%r1+0], 1\nmov %r0, 0\nldxb %r0, [%r1+100]\nmov %r0, 1\nmov %r0, 2\nexit"),
        Case(name: "local call in the middle of the caller's instructions",
             text: "mov %r0, 1\ncall local +3\nadd %r0, 1\nstb [%r1+1], 6\nexit\nadd %r0, 10\nstb [%r1+0], 5\nadd %r0, 10\nexit"),
        Case(name: "fault in a callee after the caller's block",
             text: "mov %r0, 3\ncall local +2\nadd %r0, 1\nexit\nstb [%r1+0], 1\nldxb %r0, [%r1+100]\nmov %r0, 1\nexit"),
        Case(name: "loop with a helper call and a store per iteration",
             text: "mov %r6, 0\nadd %r6, 1\nstxb [%r1+0], %r6\nmov %r2, 7\ncall %r2\njne %r6, 5, -5\nmov %r0, %r6\nexit"),
        Case(name: "local call from a program naming r6-r9 (the budget stays in the context)",
             text: "mov %r6, 1\nmov %r7, 2\nmov %r8, 3\nmov %r9, 4\ncall local +4\nadd %r0, %r6\nadd %r0, %r9\nstxb [%r1+0], %r0\nexit\n"
                 + "mov %r6, 10\nmov %r9, 20\nstb [%r1+1], 1\nmov %r0, 0\nexit"),
        Case(name: "local call clobbering r6 (the budget in r9's free register)",
             text: "mov %r6, 1\ncall local +3\nadd %r0, %r6\nstxb [%r1+0], %r0\nexit\nmov %r6, 10\nstb [%r1+1], 1\nmov %r0, 0\nexit"),
        Case(name: "inline array lookup and increment (the agent's counter)",
             text: "stw [%r10-4], 0\nlddw %r1, map_fd 5\nmov %r2, %r10\nadd %r2, -4\ncall 1\njeq %r0, 0, +3\n"
                 + "ldxdw %r1, [%r0+0]\nadd %r1, 1\nstxdw [%r0+0], %r1\nmov %r0, 0\nexit"),
    ]

    static func maps() -> SegmentMaps {
        let maps = SegmentMaps()
        maps.addMap(fd: 5, MapInfo(kind: .array, keySize: 4, valueSize: 8, maxEntries: 1))
        return maps
    }

    @Test(arguments: cases)
    func everyBudgetEndsLikeTheInterpreter(_ c: Case) throws {
        let program = try TestAssembler.program(c.text)
        var exhausted = 0
        for budget in Array(1 ... 16) + [20, 25, 30, 31, 32, 33, 34, 40] {
            let runs = try differential(program, memory: [0, 0, 0, 0, 0, 0, 0, 0], maps: Self.maps(),
                                        options: VMOptions(maxInstructions: UInt64(budget)))
            #expect(runs.jit == runs.interpreter, "budget \(budget): JIT \(runs.jit)\ninterpreter \(runs.interpreter)")
            if runs.jit.kind == .budgetExceeded { exhausted += 1 }
        }
        // The small budgets run out inside the program: the exact copy was exercised.
        #expect(exhausted > 0)
    }

    /// A program that tail-calls itself until the limit, a helper call in the middle of its block:
    /// a tail call leaves the block early, so what was charged ahead of it is given back.
    @Test func tailCallsUnderEveryBudgetEndLikeTheInterpreter() throws {
        let text = "lddw %r7, map_value 4+0\nmov %r8, 1\nlock add [%r7+0], %r8\nlddw %r2, map_fd 3\nmov %r3, 0\ncall 12\n"
            + "ldxdw %r0, [%r7+0]\nexit"
        let program = try TestAssembler.program(text)
        func end(budget: UInt64, jit: Bool) throws -> String {
            let maps = try JITTailCallTests.maps(target: nil)
            maps.setProgram(program, at: 0, in: 3)
            let vm = try VirtualMachine(program: program, maps: maps, options: VMOptions(maxInstructions: budget))
            var memory: [UInt8] = []
            let result: String
            do {
                result = jit ? "\(try memory.withUnsafeMutableBytes { try JITProgram(machine: vm).run(input: $0) })"
                    : "\(try memory.withUnsafeMutableBytes { try vm.run(input: $0) })"
            } catch {
                result = "\(error)"
            }
            return "\(result), executed \(vm.executedInstructions), global \(maps.value(fd: 4, key: key(0)) ?? [])"
        }
        for budget in [UInt64(1), 3, 5, 6, 7, 8, 13, 50, 100, 229, 230, 231, 232, 1000] {
            let interpreted = try end(budget: budget, jit: false), compiled = try end(budget: budget, jit: true)
            #expect(compiled == interpreted, "budget \(budget)")
        }
    }
}

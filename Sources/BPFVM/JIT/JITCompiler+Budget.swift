/// The instruction budget, charged once per straight-line block instead of once per instruction.
///
/// Counting each instruction is a read-modify-write of the context's `remaining` per instruction:
/// a chain of store-to-load forwards that cost more than the program itself on short probes. So
/// the code runs in two copies. The main copy subtracts a block's whole length when the block is
/// entered; when that leaves the budget negative, it gives the block's length back and continues
/// in the exact copy (every instruction counted, no loop versioning), which faults at the very
/// instruction the interpreter faults at. A fault inside a block of the main copy gives back the
/// instructions of the block after the faulting one, so `executedInstructions` stays exact too.
///
/// A block ends after any jump, local call or exit (a callee must not see instructions charged
/// ahead for its caller) and before any slot a jump or call lands on. A helper call does not end
/// one: it runs no program instructions, and when it ends the run (a fault, or a tail call that
/// continues in another program) the exit gives back what was charged ahead, as a fault does.
extension JITCompiler {
    /// The budget left during a run: a host register the program leaves free (that of one of
    /// r6-r9, see JITCompiler+Entry), so that charges are no chain of read-modify-writes through
    /// memory, else the context's `remaining`. The entry frame moves it between the two.
    var budgetLeft: X86Operand {
        budgetRegister.map { .reg($0) } ?? .mem(Self.ctx, JITContext.offset(\.remaining))
    }

    /// Block lengths by first slot, and for every slot the instructions after it in its block.
    mutating func analyseBlocks() {
        blockLength = [Int32](repeating: 0, count: code.count)
        chargedAhead = blockLength
        var members: [Int] = []
        func close() {
            guard let first = members.first else { return }
            blockLength[first] = Int32(members.count)
            for (k, slot) in members.enumerated() { chargedAhead[slot] = Int32(members.count - 1 - k) }
            members = []
        }
        var index = 0
        while index < code.count {
            if isJumpTarget[index] { close() }
            members.append(index)
            let i = code[index]
            let isHelperCall = i.opcode == BPF.callOp || i.opcode == BPF.callxOp
            if (i.opcode & 7 == BPF.classJMP || i.opcode & 7 == BPF.classJMP32) && !isHelperCall { close() }
            index += i.opcode == BPF.lddw ? 2 : 1
        }
        close()
    }

    /// Charges the instruction budget for slot `index`: the whole block at its first slot in the
    /// main copy, every instruction in the exact copy.
    mutating func chargeBudget(at index: Int) {
        let remaining = budgetLeft
        guard chargesBlocks else {
            a.alu(.sub, remaining, imm: 1)
            a.jcc(.s, exitStub(JITContext.Exit.budget, index))
            return
        }
        let length = blockLength[index]
        guard length > 0 else { return }
        let short = a.newLabel()
        stubs.append(.budgetShort(label: short, length: length, exact: exactLabels[index]))
        a.alu(.sub, remaining, imm: length)
        a.jcc(.s, short)
    }

    /// A fault at `index` in the main copy: the instructions of its block after it never ran.
    mutating func refundChargedAhead(_ index: Int) {
        guard refundsChargedAhead, chargedAhead.indices.contains(index), chargedAhead[index] > 0 else { return }
        a.alu(.add, budgetLeft, imm: chargedAhead[index])
    }

    /// Gives a block's length back and continues in the exact copy at the block's first slot.
    mutating func emitBudgetShort(_ label: X86Label, length: Int32, exact: X86Label) {
        a.bind(label)
        a.alu(.add, budgetLeft, imm: length)
        a.jmp(exact)
    }
}

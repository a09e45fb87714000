/// Local calls, helper calls and the out-of-line stubs that end a run.
extension JITCompiler {
    mutating func localCall(to target: X86Label, at index: Int) {
        let depth = X86Operand.mem(Self.ctx, JITContext.offset(\.state.callDepth))
        let stackLow = X86Operand.mem(Self.ctx, JITContext.offset(\.state.stackLow))
        a.alu(.cmp, depth, imm: Int32(clamping: maxCallDepth - 1))
        a.jcc(.ge, exitStub(JITContext.Exit.stackOverflow, index))
        a.alu(.add, depth, imm: 1)
        // The caller keeps r6-r10 (the registers it names: the budget register must not go back).
        let kept = liveCalleeSaved + [.rbp]
        pushKeepingAlignment(kept)
        a.alu(.sub, .reg(.rbp), imm: Self.frameSize)
        a.alu(.sub, stackLow, imm: Self.frameSize)
        a.call(target)
        popKeepingAlignment(kept)
        a.alu(.add, stackLow, imm: Self.frameSize)
        a.alu(.sub, depth, imm: 1)
    }

    /// A helper by constant id (`call`) or by the id in register `id` (`callx`), through the
    /// context's table; r1-r5 survive the call as in the interpreter.
    mutating func helperCall(id: X86Reg?, constant: Int64, at index: Int) {
        let unknown = a.newLabel()
        stubs.append(.unknownHelper(label: unknown, id: id, constant: constant, index: index))
        if let id {
            a.mov(.r10, id)
            a.alu(.cmp, .reg(.r10), imm: Int32(HelperTable.capacity))
            a.jcc(.ae, unknown)
            a.shift(.shl, .r10, by: 3)
            a.alu(.add, .r10, .mem(Self.ctx, JITContext.offset(\.helpers)))
            a.load(.r11, .mem(.r10, 0), .b64)
        } else {
            a.load(.r11, .mem(Self.ctx, JITContext.offset(\.helpers)), .b64)
            a.load(.r11, .mem(.r11, Int32(truncatingIfNeeded: constant) &* 8), .b64)
        }
        a.test(.r11, .r11)
        a.jcc(.e, unknown)
        let arguments: [X86Reg] = [.rdi, .rsi, .rdx, .rcx, .r8]
        for r in arguments { a.push(r) }
        a.mov(.r9, Self.ctx)
        a.call(.reg(.r11))
        for r in arguments.reversed() { a.pop(r) }
        loadFastRegion()
        a.alu(.cmp, .mem(Self.ctx, JITContext.offset(\.state.attention)), imm: 0)
        a.jcc(.ne, exitStub(JITContext.Exit.attention, index, saveRegisters: true))
    }

    mutating func loadFastRegion() {
        a.load(Self.fastLow, .mem(Self.ctx, JITContext.offset(\.fastLow)), .b64)
        a.load(Self.fastLimit, .mem(Self.ctx, JITContext.offset(\.fastLimit)), .b64)
    }


    mutating func exitStub(_ reason: UInt64, _ index: Int, saveRegisters: Bool = false) -> X86Label {
        let l = a.newLabel()
        stubs.append(.exit(label: l, reason: reason, index: index, saveRegisters: saveRegisters))
        return l
    }

    mutating func setExit(_ reason: UInt64, _ index: Int) {
        refundChargedAhead(index)
        a.storeImm(.mem(Self.ctx, JITContext.offset(\.exitIndex)), Int32(truncatingIfNeeded: index), .b64)
        a.storeImm(.mem(Self.ctx, JITContext.offset(\.exitReason)), Int32(reason), .b64)
        a.jmp(faultExit)
    }

    mutating func emit(_ stub: Stub) {
        switch stub {
        case let .access(label, resume, base, offset, size, write, index):
            // The checks are the shared routine's: each access site only names its own.
            a.bind(label)
            if offset == 0 { a.mov(.r10, base) } else { a.lea(.r10, base, offset) }
            a.call(accessRoutine(size: size, write: write))
            a.jcc(.ne, resume)
            refundChargedAhead(index)
            a.storeImm(.mem(Self.ctx, JITContext.offset(\.exitIndex)), Int32(truncatingIfNeeded: index), .b64)
            a.jmp(memoryFault)
        case let .misaligned(label, index):
            a.bind(label)
            a.store(.mem(Self.ctx, JITContext.offset(\.faultAddress)), .r10, .b64)
            setExit(JITContext.Exit.misalignedAtomic, index)
        case let .exit(label, reason, index, saveRegisters):
            a.bind(label)
            if saveRegisters { storeRegisters() }
            setExit(reason, index)
        case let .unknownHelper(label, id, constant, index):
            a.bind(label)
            if let id {
                a.store(.mem(Self.ctx, JITContext.offset(\.faultAddress)), id, .b64)
            } else {
                a.movImm(.r10, UInt64(bitPattern: constant))
                a.store(.mem(Self.ctx, JITContext.offset(\.faultAddress)), .r10, .b64)
            }
            setExit(JITContext.Exit.unknownHelper, index)
        case let .budgetShort(label, length, exact):
            emitBudgetShort(label, length: length, exact: exact)
        }
    }
}

/// The entry frame: what generated code saves, sets and restores around the program body.
///
/// A hook's program is often a dozen instructions, so the frame is a good part of a run: it
/// saves only the callee-saved host registers the program can change (rbp and r12 always, the
/// hosts of r6-r9 when an instruction names them) and sets only the registers it keeps. An entry
/// program starts as the interpreter does, from the run state `RunState.begin` set: r1 and r2 the
/// input and its length, r10 the frame top, the others zero. A tail-call target starts on the
/// registers the calling program stored in the context when it asked for the tail call.
extension JITCompiler {
    /// Which of r6-r9 the program names (r0-r5 and r10 are always kept: helpers take r1-r5),
    /// and the host register of one it does not name to count the budget in.
    mutating func findLiveRegisters() {
        isLive = (0 ..< 11).map { $0 < 6 || $0 == 10 }
        for i in code {
            for n in [i.dst, i.src] where n < 11 { isLive[Int(n)] = true }
        }
        budgetRegister = countsInstructions ? [9, 8, 7, 6].first { !isLive[$0] }.map { Self.registerMap[$0] } : nil
    }

    /// The callee-saved host registers of the live r6-r9, which a local call keeps for its caller.
    var liveCalleeSaved: [X86Reg] { (6 ... 9).filter { isLive[$0] }.map { Self.registerMap[$0] } }

    /// Saves the frame, sets the registers, calls `body`; its return (or a fault's, through
    /// `faultExit`) restores the frame and returns r0.
    mutating func emitEntryFrame(calling body: X86Label) {
        let done = a.newLabel()
        let saved = [X86Reg.rbp, .r12] + liveCalleeSaved + (budgetRegister.map { [$0] } ?? [])
        // Entry: rsp is 8 mod 16, as it is again in the body after its call.
        pushKeepingAlignment(saved)
        a.mov(Self.ctx, .rdi)
        if resumesRegisters {
            for (n, r) in Self.registerMap.enumerated() where isLive[n] { a.load(r, .mem(Self.ctx, JITContext.register(n)), .b64) }
        } else {
            let state = { (field: KeyPath<JITContext, UInt64>) in X86Operand.mem(Self.ctx, JITContext.offset(field)) }
            a.load(reg(1), state(\.state.inputLow), .b64)
            a.load(reg(2), state(\.state.inputHigh), .b64)
            a.alu(.sub, .reg(reg(2)), reg(1))
            a.load(reg(10), state(\.state.stackHigh), .b64)
            for n in [0, 3, 4, 5, 6, 7, 8, 9] where isLive[n] { a.alu(.xor, .reg(reg(UInt8(n))), reg(UInt8(n)), .b32) }
        }
        let remaining = X86Operand.mem(Self.ctx, JITContext.offset(\.remaining))
        if let budgetRegister { a.load(budgetRegister, remaining, .b64) }
        loadFastRegion()
        a.store(.mem(Self.ctx, JITContext.offset(\.savedStackPointer)), .rsp, .b64)
        a.call(body)
        a.bind(done)
        if let budgetRegister { a.store(remaining, budgetRegister, .b64) }
        popKeepingAlignment(saved)
        a.ret()
        a.bind(faultExit)
        a.load(.rsp, .mem(Self.ctx, JITContext.offset(\.savedStackPointer)), .b64)
        a.jmp(done)
    }

    /// Pushes `registers`, and 8 bytes more when they are even in number, so that a `call` after
    /// them enters its callee with rsp at 8 mod 16, as rsp was before them.
    mutating func pushKeepingAlignment(_ registers: [X86Reg]) {
        for r in registers { a.push(r) }
        if registers.count % 2 == 0 { a.alu(.sub, .reg(.rsp), imm: 8) }
    }

    /// Undoes `pushKeepingAlignment(registers)`.
    mutating func popKeepingAlignment(_ registers: [X86Reg]) {
        if registers.count % 2 == 0 { a.alu(.add, .reg(.rsp), imm: 8) }
        for r in registers.reversed() { a.pop(r) }
    }

    /// Stores r0-r10 in the context for a tail call to resume from, as the interpreter keeps
    /// them: a register the program never names is still zero in an entry program, and still
    /// the value it came with (already in the context) in a tail-call target.
    mutating func storeRegisters() {
        for (n, r) in Self.registerMap.enumerated() {
            if isLive[n] {
                a.store(.mem(Self.ctx, JITContext.register(n)), r, .b64)
            } else if !resumesRegisters {
                a.storeImm(.mem(Self.ctx, JITContext.register(n)), 0, .b64)
            }
        }
    }
}

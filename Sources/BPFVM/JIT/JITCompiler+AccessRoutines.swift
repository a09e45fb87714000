/// The out-of-line bounds check an access takes when the inline one (the fast region) fails: one
/// shared routine per access size and direction, called from each access's few-byte stub, so a
/// program with many accesses carries (and the compiler emits) the checks once, not per access.
///
/// Contract: r10 holds the address, every other register is kept. The routine returns with ZF
/// clear when the access is allowed, as `RunState.allows` decides: the active stack frames, the
/// newest granted region, the input, and then the full lookup in Swift. When denied it records
/// the fault's address, size and direction and returns with ZF set; the stub adds its slot.
extension JITCompiler {
    /// The routine for `size` bytes (1, 2, 4 or 8), emitted after the stubs.
    mutating func accessRoutine(size: Int32, write: Bool) -> X86Label {
        let key = size.trailingZeroBitCount * 2 + (write ? 1 : 0)
        if let label = accessRoutines[key] { return label }
        let label = a.newLabel()
        accessRoutines[key] = label
        return label
    }

    /// The routines some stub calls, and the exit of a denied access (`exitIndex` already set).
    mutating func emitAccessRoutines() {
        guard accessRoutines.contains(where: { $0 != nil }) else { return }
        for (key, label) in accessRoutines.enumerated() {
            guard let label else { continue }
            emitAccessRoutine(label, size: Int32(1) << (key / 2), write: key % 2 == 1)
        }
        a.bind(memoryFault)
        a.storeImm(.mem(Self.ctx, JITContext.offset(\.exitReason)), Int32(JITContext.Exit.memory), .b64)
        a.jmp(faultExit)
    }

    private mutating func emitAccessRoutine(_ label: X86Label, size: Int32, write: Bool) {
        let allowed = a.newLabel(), input = a.newLabel(), full = a.newLabel(), denied = a.newLabel()
        func context(_ field: PartialKeyPath<JITContext>) -> X86Operand { .mem(Self.ctx, JITContext.offset(field)) }
        a.bind(label)
        // Entered with rsp 0 mod 16 (the body runs at 8 mod 16).
        a.push(.r11)
        a.push(.rax)
        // Active stack frames: offset from stackLow at most (stackHigh - stackLow - size).
        a.mov(.rax, .r10)
        a.alu(.sub, .rax, context(\.state.stackLow))
        a.load(.r11, context(\.state.stackHigh), .b64)
        a.alu(.sub, .r11, context(\.state.stackLow))
        a.alu(.sub, .reg(.r11), imm: size)
        a.alu(.cmp, .reg(.rax), .r11)
        a.jcc(.be, allowed)
        // The newest granted region (usually the value a helper just returned), as
        // `RunState.grantedRegionAllows` checks it: low <= address, size <= high - address, and
        // writable for a store.
        let stride = Int32(MemoryLayout<MemoryRegion>.stride)
        func field(_ path: KeyPath<MemoryRegion, UInt64>) -> Int32 { Int32(MemoryLayout<MemoryRegion>.offset(of: path)!) - stride }
        a.load(.r11, context(\.state.regionCount), .b64)
        a.test(.r11, .r11)
        a.jcc(.e, input)
        // r11 = regions + regionCount: the newest region ends there.
        a.imul(.r11, .r11, imm: stride)
        a.alu(.add, .r11, context(\.state.regions))
        a.alu(.cmp, .r10, .mem(.r11, field(\.low)))
        a.jcc(.b, input)
        if write {
            a.alu(.cmp, .mem(.r11, field(\.writable)), imm: 0)
            a.jcc(.e, input)
        }
        a.load(.r11, .mem(.r11, field(\.high)), .b64)
        a.alu(.sub, .reg(.r11), .r10)
        a.jcc(.b, input)
        a.alu(.cmp, .reg(.r11), imm: size)
        a.jcc(.ae, allowed)
        // The input, as `RunState.within` checks it: offset from inputLow at most the span, and
        // at least `size` bytes left. (After an inline array lookup the fast region is the value.)
        a.bind(input)
        a.mov(.rax, .r10)
        a.alu(.sub, .rax, context(\.state.inputLow))
        a.load(.r11, context(\.state.inputHigh), .b64)
        a.alu(.sub, .r11, context(\.state.inputLow))
        a.alu(.cmp, .reg(.rax), .r11)
        a.jcc(.a, full)
        a.alu(.sub, .reg(.r11), .rax)
        a.alu(.cmp, .reg(.r11), imm: size)
        a.jcc(.ae, allowed)
        // Everything else: the same lookup the interpreter does, caller-saved registers kept
        // (nine pushes and 8 bytes align rsp for the call). Pops and moves keep the flags.
        a.bind(full)
        a.pop(.rax)
        a.pop(.r11)
        let saved: [X86Reg] = [.rax, .rdi, .rsi, .rdx, .rcx, .r8, .r9, .r11, .r10]
        for r in saved { a.push(r) }
        a.alu(.sub, .reg(.rsp), imm: 8)
        a.mov(.rsi, .r10)
        a.mov(.rdi, Self.ctx)
        a.movImm(.rdx, UInt64(size))
        a.movImm(.rcx, write ? 1 : 0)
        a.call(.mem(Self.ctx, JITContext.offset(\.accessCheck)))
        a.lea(.rsp, .rsp, 8)
        a.test(.rax, .rax)
        for r in saved.reversed() { a.pop(r) }
        a.jcc(.e, denied)
        a.ret()
        a.bind(denied)
        a.store(context(\.faultAddress), .r10, .b64)
        a.storeImm(context(\.faultSize), size, .b64)
        a.storeImm(context(\.faultWrite), write ? 1 : 0, .b64)
        a.ret()
        a.bind(allowed)
        a.pop(.rax)
        a.pop(.r11)
        a.test(.rsp, .rsp)  // clears ZF: rsp is never 0
        a.ret()
    }
}

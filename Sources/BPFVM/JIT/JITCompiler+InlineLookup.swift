import BPFModel

/// A map whose `map_lookup_elem` generated code does itself, with the helper's checks and grant
/// (JITCompiler+ArrayLookup, JITCompiler+HashLookup); anything unusual still calls the helper.
enum InlineMap {
    case array(InlineArrayMap)
    case hash(InlineHashMap)

    /// The maps of `environment`'s slots that qualify, by slot. None when `helpers` does not hold
    /// the standard lookup.
    static func inSlots(of environment: HelperEnvironment, helpers: HelperTable) -> [Int: InlineMap] {
        guard let lookup = helpers[Int64(HelperID.mapLookupElem.rawValue)],
              unsafeBitCast(lookup, to: UnsafeRawPointer.self) == unsafeBitCast(MapHelpers.lookupElem, to: UnsafeRawPointer.self)
        else { return [:] }
        var maps: [Int: InlineMap] = [:]
        for (slot, entry) in environment.mapSlots.enumerated() {
            if let array = InlineArrayMap(fd: entry.fd, info: entry.info, maps: environment.maps) {
                maps[slot] = .array(array)
            } else if let hash = InlineHashMap(fd: entry.fd, info: entry.info, maps: environment.maps) {
                maps[slot] = .hash(hash)
            }
        }
        return maps
    }

    /// Displacement of a program-write mark from the map's identity word, when an instruction can hold it.
    static func markOffset(_ mark: UInt64, from identity: UInt64) -> Int32? {
        Int32(exactly: Int64(bitPattern: mark &- identity))
    }
}

/// The pieces both inline lookups share.
extension JITCompiler {
    /// Instructions back from a call that `lastWrite(of:before:)` looks for what set up its
    /// arguments (the map's `lddw`, the key's `r2 = r10; r2 += K`).
    static let argumentReach = 8

    /// The map a `call` at `index` looks up, when it is `map_lookup_elem` and r1 holds a map
    /// that an `lddw` put there (see `lastWrite(of:before:)`: clang loads it right before the
    /// call; hand-written code may set the key up after it).
    func inlineMap(calledAt index: Int) -> InlineMap? {
        guard !inlineMaps.isEmpty, code[index].imm == Int64(HelperID.mapLookupElem.rawValue),
              let k = lastWrite(of: 1, before: index), code[k].opcode == BPF.lddw, code[k].src == BPF.pseudoMapFD,
              let slot = MapHandle.slot(of: UInt64(bitPattern: code[k].imm))
        else { return nil }
        return inlineMaps[slot]
    }

    /// Whether the call at `index` passes in r2 a key of `size` bytes inside the current stack
    /// frame, as clang's `r2 = r10; r2 += K` does: then it needs no check, as a load at a
    /// constant offset from r10 needs none.
    func keyInCurrentFrame(calledAt index: Int, size: Int) -> Bool {
        guard let add = lastWrite(of: 2, before: index), code[add].opcode == BPF.classALU64 | BPF.add | BPF.sourceK,
              code[add].imm >= -Int64(Self.frameSize), code[add].imm <= -Int64(size),
              let mov = lastWrite(of: 2, before: add), code[mov].opcode == BPF.classALU64 | BPF.mov | BPF.sourceX,
              code[mov].src == BPF.frameRegister  // a decoded mov is never a movsx (CompiledProgram.aluVariant)
        else { return false }
        return true
    }

    /// The slot of the instruction that sets `register` on every path to the one at `index`: at
    /// most `argumentReach` slots back in the same block, where no slot after it is a jump
    /// target and none writes `register` or leaves the block. An `lddw` is found at its first
    /// slot. Nil when there is no such instruction.
    func lastWrite(of register: UInt8, before index: Int) -> Int? {
        guard !isJumpTarget[index] else { return nil }
        var k = index - 1
        while k >= 0, index - k <= Self.argumentReach {
            let first = k >= 1 && code[k - 1].opcode == BPF.lddw ? k - 1 : k  // k may be an lddw's second slot
            switch SlotEffect(of: code[first]) {
            case .writes(register): return first
            case .leavesBlock: return nil
            case .writes, .writesNoRegister: guard !isJumpTarget[first] else { return nil }
            }
            k = first - 1
        }
        return nil
    }

    func context(_ field: PartialKeyPath<JITContext>) -> X86Operand { .mem(Self.ctx, JITContext.offset(field)) }

    /// To `helper` unless the key's `size` bytes at r2 lie in the active stack frames (offset
    /// from stackLow at most the span less `size`); no code when the call at `index` is known to
    /// pass a key in the current frame. Uses r10 and rax.
    mutating func requireKeyInActiveFrames(size: Int, calledAt index: Int, else helper: X86Label) {
        if keyInCurrentFrame(calledAt: index, size: size) { return }
        a.mov(.r10, .rsi)
        a.alu(.sub, .r10, context(\.state.stackLow))
        a.load(.rax, context(\.state.stackHigh), .b64)
        a.alu(.sub, .rax, context(\.state.stackLow))
        a.alu(.sub, .reg(.rax), imm: Int32(size))
        a.alu(.cmp, .reg(.r10), .rax)
        a.jcc(.a, helper)
    }

    /// To `helper` unless the map is still the one compiled against (its storage's magic and
    /// serial) and already marked as written by programs. Uses r10 and rax.
    mutating func requireCurrentMarkedMap(identity: UInt64, magic: UInt32, serial: UInt64, markOffset: Int32,
                                          else helper: X86Label) {
        a.movImm(.r10, identity)
        a.alu(.cmp, .mem(.r10, 0), imm: Int32(bitPattern: magic), .b32)
        a.jcc(.ne, helper)
        a.movImm(.rax, serial)
        a.alu(.cmp, .mem(.r10, 8), .rax)
        a.jcc(.ne, helper)
        a.alu(.cmp, .mem(.r10, markOffset), imm: 0, .b32)
        a.jcc(.e, helper)
    }

    /// Ends an inline lookup whose code falls through here with the value's address in rax:
    /// grants the value as `RunState.grant` does (nothing when the newest transient region is
    /// this value, else appended while the table has room; a full table is the helper's to
    /// halve), then binds `missing` (r0 = 0) and `helper` (the call itself). The inline code may
    /// have used r9 and r11, and the grant does: every way out sets the inline bounds check's
    /// region again.
    mutating func finishInlineLookup(valueSize: Int32, writable: Bool, missing: X86Label, helper: X86Label, at index: Int) {
        let append = a.newLabel(), done = a.newLabel(), after = a.newLabel()
        let stride = Int32(MemoryLayout<MemoryRegion>.stride)
        func field(_ path: KeyPath<MemoryRegion, UInt64>, ofNewest: Bool) -> Int32 {
            Int32(MemoryLayout<MemoryRegion>.offset(of: path)!) - (ofNewest ? stride : 0)
        }
        // r10 = the region count, r11 = its slot, r9 = the value's end.
        a.load(.r10, context(\.state.regionCount), .b64)
        a.imul(.r11, .r10, imm: stride)
        a.alu(.add, .r11, context(\.state.regions))
        a.lea(.r9, .rax, valueSize)
        a.alu(.cmp, .r10, context(\.state.permanentRegionCount))
        a.jcc(.e, append)
        a.alu(.cmp, .mem(.r11, field(\.low, ofNewest: true)), .rax)
        a.jcc(.ne, append)
        a.alu(.cmp, .mem(.r11, field(\.high, ofNewest: true)), .r9)
        a.jcc(.ne, append)
        a.alu(.cmp, .mem(.r11, field(\.writable, ofNewest: true)), imm: writable ? 1 : 0)
        a.jcc(.e, done)
        a.bind(append)
        a.alu(.cmp, .r10, context(\.state.regionCapacity))
        a.jcc(.ae, helper)
        a.store(.mem(.r11, field(\.low, ofNewest: false)), .rax, .b64)
        a.store(.mem(.r11, field(\.high, ofNewest: false)), .r9, .b64)
        a.storeImm(.mem(.r11, field(\.writable, ofNewest: false)), writable ? 1 : 0, .b64)
        a.alu(.add, context(\.state.regionCount), imm: 1)
        a.bind(done)
        if writable && valueSize >= 8 {
            // The inline bounds check's region becomes the value, which the program is about to
            // use and may read and write for the rest of the run (a helper call reloads the input).
            a.mov(Self.fastLow, .rax)
            a.movImm(Self.fastLimit, UInt64(valueSize - 8))
        } else {
            loadFastRegion()
        }
        a.jmp(after)

        a.bind(missing)
        loadFastRegion()
        a.movImm(.rax, 0)
        a.jmp(after)

        a.bind(helper)
        helperCall(id: nil, constant: Int64(HelperID.mapLookupElem.rawValue), at: index)
        a.bind(after)
    }
}

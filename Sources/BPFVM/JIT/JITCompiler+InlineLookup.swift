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
    /// Instructions back from a call that `inlineMap(calledAt:)` looks for the map's `lddw`.
    static let mapLoadReach = 8

    /// The map a `call` at `index` looks up, when it is `map_lookup_elem` and r1 holds a map
    /// that an `lddw` put there at most `mapLoadReach` slots before, in the same block: no
    /// instruction between writes r1 or is a jump target, so r1 is that map on every path to
    /// the call (clang loads it right before; hand-written code may set the key up after it).
    func inlineMap(calledAt index: Int) -> InlineMap? {
        guard !inlineMaps.isEmpty, code[index].imm == Int64(HelperID.mapLookupElem.rawValue), !isJumpTarget[index] else { return nil }
        var k = index - 1
        while k >= 1, index - k <= Self.mapLoadReach {
            let previous = code[k - 1]
            if previous.opcode == BPF.lddw {  // k is the lddw's second slot
                if previous.dst == 1 {
                    guard previous.src == BPF.pseudoMapFD, let slot = MapHandle.slot(of: UInt64(bitPattern: previous.imm)) else { return nil }
                    return inlineMaps[slot]
                }
                guard !isJumpTarget[k - 1] else { return nil }
                k -= 2
            } else {
                guard !isJumpTarget[k], Self.leavesR1(code[k]) else { return nil }
                k -= 1
            }
        }
        return nil
    }

    /// Whether `i` neither writes r1 nor leaves the block: loads, stores and ALU operations into
    /// other registers. Anything else (jumps, calls, atomics, legacy packet loads) counts as a write.
    private static func leavesR1(_ i: DecodedInstruction) -> Bool {
        switch i.opcode & 7 {
        case BPF.classALU, BPF.classALU64, BPF.classLDX: i.dst != 1
        case BPF.classST: true
        case BPF.classSTX: i.opcode & 0xe0 == BPF.modeMEM
        case BPF.classLD: (i.opcode == InternalOpcode.movsx32 || i.opcode == InternalOpcode.movsx64) && i.dst != 1
        default: false
        }
    }

    func context(_ field: PartialKeyPath<JITContext>) -> X86Operand { .mem(Self.ctx, JITContext.offset(field)) }

    /// To `helper` unless the key's `size` bytes at r2 lie in the active stack frames (offset
    /// from stackLow at most the span less `size`). Uses r10 and rax.
    mutating func requireKeyInActiveFrames(size: Int, else helper: X86Label) {
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

import BPFModel

/// An array or percpu_array map whose `map_lookup_elem` generated code does itself, with the
/// helper's checks and grant; anything unusual still calls the helper.
struct InlineArrayMap {
    var layout: ArrayValueLayout
    var valueSize: Int32
    var writable: Bool
    /// Displacement of the program-write mark from the map's identity word.
    var markOffset: Int32
    /// How a per-CPU map's code reads the CPU (`nil` for one value per entry).
    var cpu: CPURoute?

    /// The CPU as `sched_getcpu` gives it: the rseq area's `cpu_id` at this offset from the
    /// thread pointer (one load) where glibc registered one, else a call to `sched_getcpu`.
    enum CPURoute {
        case rseq(offset: Int32)
        case call(address: UInt64)

        static let available: CPURoute? = GNU.rseqCPUOffset.map { .rseq(offset: $0) }
            ?? GNU.schedGetCPU.map { .call(address: UInt64(UInt(bitPattern: unsafeBitCast($0, to: UnsafeRawPointer.self)))) }
    }

    /// The maps of `environment`'s slots that qualify, by slot: 4-byte keys, and sizes that fit
    /// the instructions' immediates. None when `helpers` does not hold the standard lookup.
    static func inSlots(of environment: HelperEnvironment, helpers: HelperTable) -> [Int: InlineArrayMap] {
        guard let lookup = helpers[Int64(HelperID.mapLookupElem.rawValue)],
              unsafeBitCast(lookup, to: UnsafeRawPointer.self) == unsafeBitCast(MapHelpers.lookupElem, to: UnsafeRawPointer.self)
        else { return [:] }
        var maps: [Int: InlineArrayMap] = [:]
        for (slot, entry) in environment.mapSlots.enumerated() {
            guard entry.info.kind == .array || entry.info.kind == .percpuArray, entry.info.keySize == 4,
                  let layout = environment.maps.arrayValueLayout(fd: entry.fd),
                  let valueSize = Int32(exactly: entry.info.valueSize),
                  let markOffset = Int32(exactly: Int64(bitPattern: layout.programWriteMark &- layout.identity)),
                  Int32(exactly: layout.entryStride) != nil, Int32(exactly: layout.cpuStride) != nil,
                  UInt32(exactly: layout.maxEntries) != nil, Int32(exactly: layout.cpus) != nil,
                  layout.cpus == 1 || CPURoute.available != nil
            else { continue }
            maps[slot] = InlineArrayMap(layout: layout, valueSize: valueSize, writable: !entry.info.readOnly, markOffset: markOffset,
                                        cpu: layout.cpus > 1 ? CPURoute.available : nil)
        }
        return maps
    }
}

/// `map_lookup_elem` on an array map named by a constant, in machine code: the helper's result
/// and grant without its call (the agent's per-CPU counter spends most of a fire there).
extension JITCompiler {
    /// The array map a `call` at `index` looks up, when it is `map_lookup_elem` and the `lddw`
    /// right before it (in the same block) puts the map in r1.
    func inlineArrayMap(calledAt index: Int) -> InlineArrayMap? {
        guard !arrayMaps.isEmpty, code[index].imm == Int64(HelperID.mapLookupElem.rawValue), index >= 2, !isJumpTarget[index],
              code[index - 2].opcode == BPF.lddw, code[index - 2].dst == 1, code[index - 2].src == BPF.pseudoMapFD,
              let slot = MapHandle.slot(of: UInt64(bitPattern: code[index - 2].imm)) else { return nil }
        return arrayMaps[slot]
    }

    /// r0 = the value for the key at r2, granted as the helper grants it, or 0 past the end.
    /// Whatever the fast path does not cover falls back to the helper call, which decides as
    /// always: a key outside the active stack frames, a map removed or replaced since compiling
    /// (its identity word changed), a program-write mark still clear, a CPU number the rseq
    /// area does not give, a grant with more than one transient region granted already.
    mutating func arrayLookup(_ map: InlineArrayMap, at index: Int) {
        let helper = a.newLabel(), missing = a.newLabel(), newest = a.newLabel(), append = a.newLabel(), done = a.newLabel()
        let after = a.newLabel()
        let l = map.layout
        func context(_ field: PartialKeyPath<JITContext>) -> X86Operand { .mem(Self.ctx, JITContext.offset(field)) }

        // The key's 4 bytes in the active frames: offset from stackLow at most the span less 4.
        a.mov(.r10, .rsi)
        a.alu(.sub, .r10, context(\.state.stackLow))
        a.load(.rax, context(\.state.stackHigh), .b64)
        a.alu(.sub, .rax, context(\.state.stackLow))
        a.alu(.sub, .reg(.rax), imm: 4)
        a.alu(.cmp, .reg(.r10), .rax)
        a.jcc(.a, helper)
        // Still the map compiled against, and already marked as written by programs.
        a.movImm(.r10, l.identity)
        a.alu(.cmp, .mem(.r10, 0), imm: Int32(bitPattern: l.magic), .b32)
        a.jcc(.ne, helper)
        a.movImm(.rax, l.serial)
        a.alu(.cmp, .mem(.r10, 8), .rax)
        a.jcc(.ne, helper)
        a.alu(.cmp, .mem(.r10, map.markOffset), imm: 0, .b32)
        a.jcc(.e, helper)
        // rax = entries + index * entryStride (+ cpu * cpuStride), or a miss past the end.
        a.load(.rax, .mem(.rsi, 0), .b32)
        a.alu(.cmp, .reg(.rax), imm: Int32(bitPattern: UInt32(l.maxEntries)), .b32)
        a.jcc(.ae, missing)
        a.imul(.rax, .rax, imm: Int32(l.entryStride))
        if let route = map.cpu {
            currentCPU(into: .r10, route)
            // Unsigned: rseq's negative "not registered" values go to the helper too.
            a.alu(.cmp, .reg(.r10), imm: Int32(l.cpus), .b32)
            a.jcc(.ae, helper)
            a.imul(.r10, .r10, imm: Int32(l.cpuStride))
            a.alu(.add, .reg(.rax), .r10)
        }
        a.movImm(.r10, l.entries)
        a.alu(.add, .reg(.rax), .r10)
        // The grant, as RunState.grant makes it while at most one transient region is granted (a
        // hooked call's stack, or nothing): nothing to do when the newest is this value, else
        // appended. With more, the helper compares the last eight.
        let stride = Int32(MemoryLayout<MemoryRegion>.stride)
        func field(_ path: KeyPath<MemoryRegion, UInt64>, ofNewest: Bool) -> Int32 {
            Int32(MemoryLayout<MemoryRegion>.offset(of: path)!) - (ofNewest ? stride : 0)
        }
        a.load(.r10, context(\.state.regionCount), .b64)
        a.imul(.r11, .r10, imm: stride)
        a.alu(.add, .r11, context(\.state.regions))
        a.alu(.cmp, .r10, context(\.state.permanentRegionCount))
        a.jcc(.ne, newest)
        a.bind(append)
        a.store(.mem(.r11, field(\.low, ofNewest: false)), .rax, .b64)
        a.lea(.r10, .rax, map.valueSize)
        a.store(.mem(.r11, field(\.high, ofNewest: false)), .r10, .b64)
        a.storeImm(.mem(.r11, field(\.writable, ofNewest: false)), map.writable ? 1 : 0, .b64)
        a.alu(.add, context(\.state.regionCount), imm: 1)
        a.bind(done)
        if map.writable && map.valueSize >= 8 {
            // The inline bounds check's region becomes the value, which the program is about to
            // use and may read and write for the rest of the run (a helper call reloads the input).
            a.mov(Self.fastLow, .rax)
            a.movImm(Self.fastLimit, UInt64(map.valueSize - 8))
        } else {
            a.load(Self.fastLimit, context(\.fastLimit), .b64)
        }
        a.jmp(after)

        a.bind(missing)
        a.movImm(.rax, 0)
        a.jmp(after)

        a.bind(newest)
        let another = a.newLabel()
        a.alu(.cmp, .mem(.r11, field(\.low, ofNewest: true)), .rax)
        a.jcc(.ne, another)
        a.lea(.r10, .rax, map.valueSize)
        a.alu(.cmp, .mem(.r11, field(\.high, ofNewest: true)), .r10)
        a.jcc(.ne, another)
        a.alu(.cmp, .mem(.r11, field(\.writable, ofNewest: true)), imm: map.writable ? 1 : 0)
        a.jcc(.e, done)
        a.bind(another)
        a.load(.r10, context(\.state.regionCount), .b64)
        a.alu(.sub, .r10, context(\.state.permanentRegionCount))
        a.alu(.cmp, .reg(.r10), imm: 1)
        a.jcc(.e, append)

        a.bind(helper)
        helperCall(id: nil, constant: Int64(HelperID.mapLookupElem.rawValue), at: index)
        a.bind(after)
    }

    /// `dst` = the CPU this thread runs on, read at the lookup as the helper reads it, so that a
    /// thread that migrates gets its new CPU's value from its next lookup on: no CPU number is
    /// cached across lookups. (Which CPU's value a run gets never affects memory safety: it is
    /// bounds-checked against the map's CPU count.)
    private mutating func currentCPU(into dst: X86Reg, _ route: InlineArrayMap.CPURoute) {
        switch route {
        case .rseq(let offset):
            a.loadThreadLocal32(dst, at: offset)
        case .call(let address):
            // Six pushes and 8 bytes keep rsp 16-byte aligned at the call (the body runs at 8 mod 16).
            let saved: [X86Reg] = [.rax, .rdi, .rsi, .rdx, .rcx, .r8]
            for r in saved { a.push(r) }
            a.alu(.sub, .reg(.rsp), imm: 8)
            a.movImm(.r10, address)
            a.call(.reg(.r10))
            a.mov(dst, .rax, .b32)
            a.alu(.add, .reg(.rsp), imm: 8)
            for r in saved.reversed() { a.pop(r) }
            a.load(Self.fastLow, .mem(Self.ctx, JITContext.offset(\.fastLow)), .b64)
        }
    }
}

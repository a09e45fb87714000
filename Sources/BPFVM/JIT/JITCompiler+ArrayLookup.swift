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

    /// Map `fd` when it qualifies: 4-byte keys, and sizes that fit the instructions' immediates
    /// (and a way to read the CPU, for per-CPU maps).
    init?(fd: Int32, info: MapInfo, maps: MapBackend) {
        guard info.kind == .array || info.kind == .percpuArray, info.keySize == 4,
              let layout = maps.arrayValueLayout(fd: fd),
              let valueSize = Int32(exactly: info.valueSize),
              let markOffset = InlineMap.markOffset(layout.programWriteMark, from: layout.identity),
              Int32(exactly: layout.entryStride) != nil, Int32(exactly: layout.cpuStride) != nil,
              UInt32(exactly: layout.maxEntries) != nil, Int32(exactly: layout.cpus) != nil,
              layout.cpus == 1 || CPURoute.available != nil
        else { return nil }
        self.layout = layout
        self.valueSize = valueSize
        self.writable = !info.readOnly
        self.markOffset = markOffset
        cpu = layout.cpus > 1 ? CPURoute.available : nil
    }
}

/// `map_lookup_elem` on an array map named by a constant, in machine code: the helper's result
/// and grant without its call (the agent's per-CPU counter spends most of a fire there).
extension JITCompiler {
    /// r0 = the value for the key at r2, granted as the helper grants it, or 0 past the end.
    /// Whatever the fast path does not cover falls back to the helper call, which decides as
    /// always: a key outside the active stack frames, a map removed or replaced since compiling
    /// (its identity word changed), a program-write mark still clear, a CPU number the rseq
    /// area does not give, a full region table.
    mutating func arrayLookup(_ map: InlineArrayMap, at index: Int) {
        let helper = a.newLabel(), missing = a.newLabel()
        let l = map.layout
        requireKeyInActiveFrames(size: 4, calledAt: index, else: helper)
        requireCurrentMarkedMap(identity: l.identity, magic: l.magic, serial: l.serial, markOffset: map.markOffset, else: helper)
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
        finishInlineLookup(valueSize: map.valueSize, writable: map.writable, missing: missing, helper: helper, at: index)
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

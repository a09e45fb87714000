import BPFModel

/// A hash map whose `map_lookup_elem` generated code does itself: a program looking up key
/// after key in a big map is limited by how many lookups' cache misses overlap, and a helper
/// call's path (about 400 host instructions) lets hardly two do so.
struct InlineHashMap {
    var layout: HashValueLayout
    var valueSize: Int32
    var writable: Bool
    /// Displacement of the program-write mark from the map's identity word.
    var markOffset: Int32

    /// Map `fd` when its backend describes its entries (plain hash maps with 4- or 8-byte keys
    /// whose lookups take no lock) and every size fits the instructions' immediates.
    init?(fd: Int32, info: MapInfo, maps: MapBackend) {
        guard info.kind == .hash, let layout = maps.hashValueLayout(fd: fd), layout.keySize == info.keySize,
              layout.keySize == 4 || layout.keySize == 8,
              let valueSize = Int32(exactly: info.valueSize),
              let markOffset = InlineMap.markOffset(layout.programWriteMark, from: layout.identity),
              Int32(exactly: layout.entryStride) != nil, Int32(exactly: layout.keyOffset) != nil,
              Int32(exactly: layout.valueOffset) != nil, UInt32(exactly: layout.maxEntries) != nil
        else { return nil }
        self.layout = layout
        self.valueSize = valueSize
        self.writable = !info.readOnly
        self.markOffset = markOffset
    }
}

extension JITCompiler {
    /// Entries an inline walk follows before it leaves a chain to the helper: a doubled bucket
    /// count makes chains 0.48 entries long on average, so longer ones (or a torn walk that
    /// loops) are rare enough to take the slow path.
    static let inlineChainSteps = 8

    /// r0 = the value of the key at r2, granted as the helper grants it, or 0 when absent, read
    /// as `SegmentMap.lookupWithoutLock` reads it: the sequence word even before the reads and
    /// unchanged after them, the map current and marked inside that window, chain indexes above
    /// max_entries never followed. Torn reads stay inside the map's storage and are dropped.
    /// Everything else goes to the helper: a key outside the active stack frames, a locker
    /// writing, a replaced map, a clear mark, a long chain, a full region table.
    mutating func hashLookup(_ map: InlineHashMap, at index: Int) {
        let helper = a.newLabel(), missing = a.newLabel(), walk = a.newLabel(), absent = a.newLabel(), found = a.newLabel()
        let l = map.layout
        let keyWidth: X86Width = l.keySize == 8 ? .b64 : .b32
        requireKeyInActiveFrames(size: l.keySize, calledAt: index, else: helper)
        // r9 = the sequence seen before the reads.
        a.movImm(.r10, l.sequence)
        a.load(.r9, .mem(.r10, 0), .b64)
        a.test(.r9, imm: 1)
        a.jcc(.ne, helper)
        requireCurrentMarkedMap(identity: l.identity, magic: l.magic, serial: l.serial, markOffset: map.markOffset, else: helper)
        // rax = the chain's first index: the bucket of the key's hash, as KeyHash computes it.
        a.load(.rax, .mem(.rsi, 0), keyWidth)
        a.movImm(.r10, HashValueLayout.hashMultiplier)
        a.imul(.rax, .r10)
        a.mov(.r10, .rax)
        a.shift(.shr, .r10, by: 32)
        a.alu(.xor, .reg(.rax), .r10, .b32)
        a.alu(.and, .reg(.rax), imm: Int32(bitPattern: l.bucketMask), .b32)
        a.shift(.shl, .rax, by: 2)
        a.movImm(.r10, l.buckets)
        a.alu(.add, .reg(.rax), .r10)
        a.load(.rax, .mem(.rax, 0), .b32)
        // The walk: r11 counts the entries it may still follow, r10 points at the entry.
        a.movImm(.r11, UInt64(Self.inlineChainSteps))
        a.bind(walk)
        a.test(.rax, .rax, .b32)
        a.jcc(.e, absent)
        a.alu(.cmp, .reg(.rax), imm: Int32(bitPattern: UInt32(l.maxEntries)), .b32)
        a.jcc(.a, helper)
        a.lea(.r10, .rax, -1)
        a.imul(.r10, .r10, imm: Int32(l.entryStride))
        a.movImm(.rax, l.entries)
        a.alu(.add, .reg(.r10), .rax)
        a.load(.rax, .mem(.rsi, 0), keyWidth)
        a.alu(.cmp, .rax, .mem(.r10, Int32(l.keyOffset)), keyWidth)
        a.jcc(.e, found)
        a.load(.rax, .mem(.r10, 0), .b32)
        a.alu(.sub, .reg(.r11), imm: 1)
        a.jcc(.ne, walk)
        a.jmp(helper)

        a.bind(absent)
        requireSequence(l.sequence, else: helper)
        a.jmp(missing)

        a.bind(found)
        requireSequence(l.sequence, else: helper)
        a.lea(.rax, .r10, Int32(l.valueOffset))
        finishInlineLookup(valueSize: map.valueSize, writable: map.writable, missing: missing, helper: helper, at: index)
    }

    /// To `helper` unless the sequence word still holds r9 (no locker wrote during the reads;
    /// x86 keeps loads in order, so the reads before this one saw no later write). Uses rax.
    private mutating func requireSequence(_ address: UInt64, else helper: X86Label) {
        a.movImm(.rax, address)
        a.alu(.cmp, .r9, .mem(.rax, 0))
        a.jcc(.ne, helper)
    }
}

/// Loop versioning for bounds checks: a loop that walks a pointer through memory with a constant
/// stride until it equals a bound is checked once, at entry, for all its iterations; the loop
/// then runs without checks on that pointer. When the entry check fails the loop runs in a
/// second copy with every check, so behaviour (faults included) is exactly the unversioned one.
///
/// A loop qualifies only in this shape, which makes the pointer's values known at entry:
/// - slots `header...backEdge` (at most `maxBody`), closed by `if p != b goto header` (64-bit, registers) and
///   entered only through `header` (no jump from anywhere into the rest of the body);
/// - inside, no jump, call, exit, atomic or `lddw`, only branch-free conditional skips;
/// - `p` changes once per iteration, by `p += c` (64-bit immediate, c a power of two up to
///   4096); `b` never changes;
/// - at least one load or store goes through `p`.
/// Then the body runs for p = p0, p0 + c, ..., b - c when b > p0 and c divides b - p0 (else
/// the checked copy runs), and every access through `p` lies between its first and last values.
struct VersionedLoop {
    let header: Int
    let backEdge: Int
    let pointer: UInt8
    let bound: UInt8
    let stride: Int32
    /// The smallest offset from `p`'s value at the top of an iteration of any access through it,
    /// and the largest offset of an end (offset + size) of one.
    let lowest: Int32
    let highestEnd: Int32

    static let maxStride: Int64 = 4096
    /// Longer bodies are left alone, which also bounds the analysis at this many slots a jump.
    static let maxBody = 256

    /// The loops of `code` that qualify, by header slot.
    static func find(in code: UnsafeMutableBufferPointer<DecodedInstruction>, isConditionalSkip: (Int) -> Bool) -> [Int: VersionedLoop] {
        // Back edges of the right shape first: most programs have none, and then need no map of
        // jump sources (a dictionary entry and an array per jump target).
        let backEdges = code.indices.filter { backEdge in
            let j = code[backEdge], header = JITCompiler.target(of: j, at: backEdge)
            return j.opcode == BPF.classJMP | BPF.jne | BPF.sourceX && header >= 0 && header < backEdge
                && backEdge - header <= maxBody && backEdge + 1 < code.count && j.dst != j.src
        }
        guard !backEdges.isEmpty else { return [:] }
        var sources: [Int: [Int]] = [:]
        for index in code.indices {
            if let target = JITCompiler.jumpTarget(of: code[index], at: index, in: code.count) { sources[target, default: []].append(index) }
        }
        var loops: [Int: VersionedLoop] = [:]
        for backEdge in backEdges {
            let j = code[backEdge]
            let header = JITCompiler.target(of: j, at: backEdge)
            guard loops[header] == nil else { continue }
            for (pointer, bound) in [(j.dst, j.src), (j.src, j.dst)] {
                if let loop = analyse(code, header, backEdge, pointer, bound, sources, isConditionalSkip) {
                    loops[header] = loop
                    break
                }
            }
        }
        return loops
    }

    private static func analyse(_ code: UnsafeMutableBufferPointer<DecodedInstruction>, _ header: Int, _ backEdge: Int,
                                _ pointer: UInt8, _ bound: UInt8, _ sources: [Int: [Int]],
                                _ isConditionalSkip: (Int) -> Bool) -> VersionedLoop? {
        // Entered only at the header; the only jump back to it from inside is the back edge.
        guard sources[header, default: []].allSatisfy({ $0 < header || $0 >= backEdge }) else { return nil }
        var skipTargets = Set<Int>()
        var stride: Int32?
        var lowest = Int32.max, highestEnd = Int32.min
        var index = header
        while index < backEdge {
            var i = code[index]
            let skipped = isConditionalSkip(index)
            if skipped {
                skipTargets.insert(index + 2)
                index += 1
                i = code[index]
            }
            let cls = i.opcode & 7
            switch SlotEffect(of: i) {
            case .leavesBlock:
                return nil
            case .writes(pointer) where cls == BPF.classALU || cls == BPF.classALU64:
                guard !skipped, stride == nil, i.opcode == BPF.classALU64 | BPF.add | BPF.sourceK, i.imm > 0,
                      i.imm <= maxStride, i.imm & (i.imm - 1) == 0 else { return nil }
                stride = Int32(i.imm)
                index += 1
                continue
            case .writes(pointer), .writes(bound):
                return nil
            case .writes, .writesNoRegister:
                break
            }
            if cls == BPF.classLDX || cls == BPF.classST || cls == BPF.classSTX {
                let base = cls == BPF.classLDX ? i.src : i.dst
                if base == pointer {
                    let offset = i.offset + (stride ?? 0)
                    lowest = min(lowest, offset)
                    highestEnd = max(highestEnd, offset + JITCompiler.width(i.opcode))
                }
            }
            index += 1
        }
        // No jump lands inside the body except the skips compiled without a branch.
        for slot in header + 1 ... backEdge {
            for source in sources[slot, default: []] where !(skipTargets.contains(slot) && source == slot - 2) { return nil }
        }
        guard let stride, lowest <= highestEnd else { return nil }
        return VersionedLoop(header: header, backEdge: backEdge, pointer: pointer, bound: bound, stride: stride,
                             lowest: lowest, highestEnd: highestEnd)
    }
}

extension JITCompiler {
    /// The entry check, then the copy without checks on the pointer. The checked copy is
    /// emitted later (`emitCheckedCopy`), out of the way.
    mutating func emitVersioned(_ loop: VersionedLoop) throws {
        let p = reg(loop.pointer), b = reg(loop.bound)
        let checked = a.newLabel(), top = a.newLabel()
        checkedCopies.append((loop, checked))
        // b > p0 and c divides b - p0: the last iteration starts at p0 + D, D = b - p0 - c.
        a.alu(.cmp, .reg(p), b)
        a.jcc(.ae, checked)
        // The first access: offset from fastLow within fastLimit, as the inline check does.
        a.lea(.r10, p, loop.lowest)
        a.alu(.sub, .reg(.r10), Self.fastLow)
        a.alu(.cmp, .reg(.r10), Self.fastLimit)
        a.jcc(.a, checked)
        a.mov(.r10, b)
        a.alu(.sub, .reg(.r10), p)
        a.test(.r10, imm: loop.stride - 1)
        a.jcc(.ne, checked)
        a.alu(.sub, .reg(.r10), imm: loop.stride)
        // D within fastLimit keeps the arithmetic below from wrapping (fastLimit < 2^62).
        a.alu(.cmp, .reg(.r10), Self.fastLimit)
        a.jcc(.a, checked)
        // The last end: p0 + D + highestEnd at most fastLow + fastLimit + 8, the region's end.
        a.alu(.add, .reg(.r10), p)
        a.lea(.r10, .r10, loop.highestEnd - 8)
        a.alu(.sub, .reg(.r10), Self.fastLow)
        a.alu(.cmp, .reg(.r10), Self.fastLimit)
        a.jcc(.a, checked)
        a.align(16)
        a.bind(top)
        provenBase = p
        defer { provenBase = nil }
        try emitBody(loop, head: top)
    }

    /// The loop with every check, where a failed entry check goes; it leaves to the slot after
    /// the loop.
    mutating func emitCheckedCopy(_ loop: VersionedLoop, at entry: X86Label) throws {
        a.bind(entry)
        try emitBody(loop, head: entry)
        a.jmp(try label(loop.backEdge + 1))
    }

    /// The body's slots, with the back edge jumping to `head`.
    private mutating func emitBody(_ loop: VersionedLoop, head: X86Label) throws {
        let header = labels[loop.header]
        labels[loop.header] = head
        defer { labels[loop.header] = header }
        var index = loop.header
        while index <= loop.backEdge { index = try emitSlot(index) }
    }
}

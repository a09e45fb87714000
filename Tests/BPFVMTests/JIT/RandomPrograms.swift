import TestSupport
@testable import BPFVM

/// Random valid eBPF programs for differential testing: a main function and up to two
/// subprograms (called only from earlier functions, so no recursion), built from groups of
/// instructions: ALU/ALU32 with every operation and interesting immediates, 64-bit immediates,
/// JMP/JMP32 jumps, stack and input loads/stores (direct, through computed pointers, sometimes out
/// of bounds), atomics (sometimes misaligned), helper calls (helper 5 returns r1) and local calls.
/// Without `loops` every jump goes forward, so programs terminate; with it, jumps may go back and
/// the caller must set an instruction budget. r1 (the input pointer) is never written.
struct RandomProgramGenerator {
    var rng: SplitMix64
    let loops: Bool

    /// A group of instructions; its last one (or the one at `jumpAt`) may jump to another group
    /// of the function, or call a function.
    private struct Group {
        var instructions: [Instruction]
        var jumpTo: Int? = nil
        var callTo: Int? = nil
        var jumpAt: Int? = nil
    }

    init(seed: UInt64, loops: Bool) {
        rng = SplitMix64(seed: seed)
        self.loops = loops
    }

    mutating func next() -> (program: Program, memory: [UInt8]) {
        let memorySize = [0, 8, 32, 64, 128][pick(5)]
        let memory = (0 ..< memorySize).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }
        let functionCount = 1 + pick(3)
        var functions: [[Group]] = []
        for f in 0 ..< functionCount {
            let count = 8 + pick(24)
            var groups: [Group] = []
            for g in 0 ..< count { groups.append(group(function: f, functions: functionCount, index: g, of: count, memorySize: memorySize)) }
            groups.append(Group(instructions: (f == 0 ? Self.foldRegisters : []) + [Instruction(opcode: 0x95)]))
            functions.append(groups)
        }
        return (Program(instructions: layout(functions)), memory)
    }

    /// Main's exit first folds r2-r9 into r0 (r0 = r0 * 31 + rN), so every register's final value
    /// is compared, not only r0's.
    static let foldRegisters: [Instruction] = (2 ... 9).flatMap { n in
        [Instruction(opcode: BPF.classALU64 | BPF.mul, dst: 0, imm: 31),
         Instruction(opcode: BPF.classALU64 | BPF.add | BPF.sourceX, dst: 0, src: UInt8(n))]
    }

    /// Flattens functions and resolves jump and call targets into relative offsets.
    private func layout(_ functions: [[Group]]) -> [Instruction] {
        var starts: [[Int]] = []
        var position = 0
        for groups in functions {
            starts.append(groups.map { g in defer { position += g.instructions.count }; return position })
        }
        var out: [Instruction] = []
        for (f, groups) in functions.enumerated() {
            for g in groups {
                var ins = g.instructions
                let last = out.count + ins.count - 1
                if let target = g.jumpTo {
                    let at = g.jumpAt ?? ins.count - 1
                    let relative = starts[f][target] - (out.count + at + 1)
                    if ins[at].opcode == BPF.ja32Op {
                        ins[at].imm = Int32(relative)
                    } else {
                        ins[at].offset = Int16(relative)
                    }
                }
                if let callee = g.callTo { ins[ins.count - 1].imm = Int32(starts[callee][0] - (last + 1)) }
                out += ins
            }
        }
        return out
    }

    // MARK: Choices

    private mutating func pick(_ n: Int) -> Int { Int.random(in: 0 ..< n, using: &rng) }
    private mutating func chance(_ percent: Int) -> Bool { pick(100) < percent }

    /// A destination register: r0 or r2-r9 (r1 keeps the input pointer, r10 is read-only).
    private mutating func dst() -> UInt8 { [0, 2, 3, 4, 5, 6, 7, 8, 9][pick(9)] }
    private mutating func src() -> UInt8 { UInt8(pick(11)) }

    private mutating func immediate() -> Int32 {
        switch pick(8) {
        case 0: return 0
        case 1: return [1, -1, 2, 8, 31, 32, 63, 64, 128, -128][pick(10)]
        case 2: return [Int32.min, Int32.max, Int32.min + 1, 0x7fff, -0x8000, 0xffff, 255][pick(7)]
        case 3: return Int32.random(in: -16 ... 16, using: &rng)
        default: return Int32(truncatingIfNeeded: rng.next())
        }
    }

    private mutating func group(function f: Int, functions: Int, index g: Int, of count: Int, memorySize: Int) -> Group {
        let roll = pick(100)
        switch roll {
        case 0 ..< 38: return Group(instructions: [alu()])
        case 38 ..< 43:
            let v = chance(50) ? rng.next() : UInt64(bitPattern: Int64(immediate()))
            return Group(instructions: [Instruction(opcode: BPF.lddw, dst: dst(), imm: Int32(truncatingIfNeeded: v)),
                                        Instruction(opcode: 0, imm: Int32(truncatingIfNeeded: v >> 32))])
        case 43 ..< 58: return conditionalJump(index: g, of: count)
        case 58 ..< 61:
            let target = jumpTarget(index: g, of: count)
            return Group(instructions: [Instruction(opcode: chance(50) ? BPF.jaOp : BPF.ja32Op)], jumpTo: target)
        case 61 ..< 75: return Group(instructions: [stackAccess()])
        case 75 ..< 84: return pointerAccess(memorySize: memorySize)
        case 84 ..< 88: return Group(instructions: [atomic(base: 10, offset: -8 * Int16(1 + pick(64)) + (chance(3) ? 2 : 0))])
        case 88 ..< 92:
            if chance(50) { return Group(instructions: [Instruction(opcode: BPF.callOp, imm: 5)]) }
            let r = dst()
            let id: Int32 = chance(90) ? 5 : [0, 3, 300, -1][pick(4)]
            return Group(instructions: [Instruction(opcode: 0xb7, dst: r, imm: id), Instruction(opcode: BPF.callxOp, dst: r)])
        case 92 ..< 96 where f + 1 < functions:
            return Group(instructions: [Instruction(opcode: BPF.callOp, src: BPF.pseudoCall)], callTo: f + 1 + pick(functions - f - 1))
        case 96 ..< 97:
            // A load or store through an arbitrary register: usually outside every region.
            let size = [BPF.sizeB, BPF.sizeH, BPF.sizeW, BPF.sizeDW][pick(4)]
            return Group(instructions: [chance(50)
                ? Instruction(opcode: BPF.classLDX | BPF.modeMEM | size, dst: dst(), src: src(), offset: Int16(pick(64)) - 32)
                : Instruction(opcode: BPF.classSTX | BPF.modeMEM | size, dst: src(), src: src(), offset: Int16(pick(64)) - 32)])
        default: return Group(instructions: [alu()])
        }
    }

    private mutating func jumpTarget(index g: Int, of count: Int) -> Int {
        // Groups 0..<count plus the final exit at `count`.
        loops && chance(30) ? pick(count + 1) : g + 1 + pick(count - g)
    }

    private mutating func conditionalJump(index g: Int, of count: Int) -> Group {
        let ops = [BPF.jeq, BPF.jgt, BPF.jge, BPF.jset, BPF.jne, BPF.jsgt, BPF.jsge, BPF.jlt, BPF.jle, BPF.jslt, BPF.jsle]
        let cls = chance(50) ? BPF.classJMP : BPF.classJMP32
        let x = chance(50)
        let ins = Instruction(opcode: cls | ops[pick(ops.count)] | (x ? BPF.sourceX : 0), dst: src(), src: x ? src() : 0,
                              imm: x ? 0 : immediate())
        // Often a skip over one instruction (the JIT's branchless case).
        if chance(30) { return Group(instructions: [ins, alu()], jumpTo: g + 1, jumpAt: 0) }
        return Group(instructions: [ins], jumpTo: jumpTarget(index: g, of: count))
    }

    private mutating func alu() -> Instruction {
        let cls = chance(50) ? BPF.classALU64 : BPF.classALU
        let x = chance(50)
        let source: UInt8 = x ? BPF.sourceX : 0
        let d = dst(), s = x ? src() : 0
        switch pick(18) {
        case 0: return Instruction(opcode: cls | BPF.neg, dst: d)
        case 1:
            // Byte swaps: le/be in ALU, unconditional bswap in ALU64.
            let opcode: UInt8 = cls == BPF.classALU64 ? 0xd7 : (chance(50) ? 0xd4 : 0xdc)
            return Instruction(opcode: opcode, dst: d, imm: [16, 32, 64][pick(3)])
        case 2, 3:
            // Signed division and modulo (offset 1).
            return Instruction(opcode: cls | (chance(50) ? BPF.div : BPF.mod) | source, dst: d, src: s, offset: 1,
                               imm: x ? 0 : immediate())
        case 4:
            // movsx: 8/16 in ALU, 8/16/32 in ALU64.
            let widths: [Int16] = cls == BPF.classALU64 ? [8, 16, 32] : [8, 16]
            return Instruction(opcode: cls | BPF.mov | BPF.sourceX, dst: d, src: src(), offset: widths[pick(widths.count)])
        case 5, 6:
            let op = [BPF.lsh, BPF.rsh, BPF.arsh][pick(3)]
            return Instruction(opcode: cls | op | source, dst: d, src: s, imm: x ? 0 : Int32(pick(chance(80) ? 64 : 256)))
        default:
            let ops = [BPF.add, BPF.sub, BPF.mul, BPF.div, BPF.or, BPF.and, BPF.mod, BPF.xor, BPF.mov]
            return Instruction(opcode: cls | ops[pick(ops.count)] | source, dst: d, src: s, imm: x ? 0 : immediate())
        }
    }

    private mutating func width() -> UInt8 { [BPF.sizeB, BPF.sizeH, BPF.sizeW, BPF.sizeDW][pick(4)] }

    /// A load or store at `[base + offset]`.
    private mutating func access(base: UInt8, offset: Int16) -> Instruction {
        let size = width()
        switch pick(4) {
        case 0:
            return Instruction(opcode: BPF.classLDX | BPF.modeMEM | size, dst: dst(), src: base, offset: offset)
        case 1:
            let signed = size != BPF.sizeDW && chance(70)
            return Instruction(opcode: BPF.classLDX | (signed ? BPF.modeMEMSX : BPF.modeMEM) | size, dst: dst(), src: base, offset: offset)
        case 2:
            return Instruction(opcode: BPF.classST | BPF.modeMEM | size, dst: base, offset: offset, imm: immediate())
        default:
            return Instruction(opcode: BPF.classSTX | BPF.modeMEM | size, dst: base, src: src(), offset: offset)
        }
    }

    /// r10-relative: in the frame, or now and then just outside it (above it in a subprogram is
    /// the caller's frame, which is allowed).
    private mutating func stackAccess() -> Instruction {
        let offset: Int16 = chance(2) ? [-520, -513, 0, 8, 504][pick(5)] : -Int16(8 + pick(504))
        return access(base: 10, offset: offset)
    }

    /// r9 = r1 or r10 plus a constant, then an access or an atomic through it.
    private mutating func pointerAccess(memorySize: Int) -> Group {
        let fromInput = memorySize >= 32 ? chance(60) : chance(5)
        let k: Int32 = fromInput
            ? (chance(95) && memorySize >= 32 ? Int32(8 + pick(memorySize - 24)) : Int32(memorySize) + Int32(pick(16)) - 8)
            : -Int32(16 + pick(496))
        let base = [Instruction(opcode: 0xbf, dst: 9, src: fromInput ? 1 : 10), Instruction(opcode: 0x07, dst: 9, imm: k)]
        if chance(25) {
            return Group(instructions: base + [atomic(base: 9, offset: Int16(-(Int(k) & 7)) + (chance(10) ? 1 : 0))])
        }
        return Group(instructions: base + [access(base: 9, offset: Int16(pick(16)) - 8)])
    }

    private mutating func atomic(base: UInt8, offset: Int16) -> Instruction {
        let ops: [Int32] = [0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, BPF.atomicXchg, BPF.atomicCmpxchg]
        let op = ops[pick(ops.count)]
        let fetches = op & BPF.atomicFetch != 0 && op != BPF.atomicCmpxchg
        // Fetching writes src: never r1 (the input pointer) or r10.
        let s = fetches ? dst() : src()
        return Instruction(opcode: chance(50) ? BPF.atomic64 : BPF.atomic32, dst: base, src: s, offset: offset, imm: op)
    }
}

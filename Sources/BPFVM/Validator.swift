/// Static checks every program passes before it runs: known opcodes and fields, registers r0-r10
/// with r10 read-only, jump and call targets inside the program and not into an `lddw`'s second
/// slot, no fall-through past the end, known helpers, resolvable map pseudo-loads, a size limit.
public struct Validator {
    public static let defaultMaxInstructions = 1_000_000

    public var helpers: HelperTable
    /// Resolves `lddw src=1/2` map fds; without one, programs with map loads are rejected.
    public var maps: MapBackend?
    public var maxInstructions: Int

    public init(helpers: HelperTable, maps: MapBackend? = nil, maxInstructions: Int = Validator.defaultMaxInstructions) {
        self.helpers = helpers
        self.maps = maps
        self.maxInstructions = maxInstructions
    }

    public func validate(_ program: Program) throws {
        let ins = program.instructions
        guard ins.count <= maxInstructions else {
            throw VMError(.rejected, "the program has \(ins.count) instructions, more than the limit of \(maxInstructions)")
        }
        // Second slots of lddw: not instructions, not jump targets.
        var wideTail = [Bool](repeating: false, count: ins.count)
        var index = 0
        while index < ins.count {
            if ins[index].isWide && index + 1 < ins.count { wideTail[index + 1] = true; index += 1 }
            index += 1
        }
        var last = 0
        index = 0
        while index < ins.count {
            last = index
            if let reason = check(program, at: index, wideTail: wideTail) {
                throw VMError(.rejected, reason, index: index, instruction: Disassembler.text(of: program, at: index))
            }
            index += ins[index].isWide ? 2 : 1
        }
        let final = ins[last].opcode
        guard final == BPF.exitOp || final == BPF.jaOp || final == BPF.ja32Op else {
            throw VMError(.rejected, "execution can fall through past the end of the program",
                          index: last, instruction: Disassembler.text(of: program, at: last))
        }
    }

    /// Every opcode the ISA defines (RFC 9669, with the v4 additions), as a 256-entry table.
    static let knownOpcodes: [Bool] = {
        var known = [Bool](repeating: false, count: 256)
        for cls in [BPF.classALU, BPF.classALU64] {
            for op in stride(from: 0, through: 0xc0, by: 0x10) where op != Int(BPF.neg) {
                known[op | Int(cls)] = true
                known[op | Int(cls) | Int(BPF.sourceX)] = true
            }
            known[Int(BPF.neg | cls)] = true
            known[Int(BPF.end | cls)] = true                              // le, bswap
        }
        known[Int(BPF.end | BPF.classALU | BPF.sourceX)] = true            // be
        for cls in [BPF.classJMP, BPF.classJMP32] {
            for op in [BPF.jeq, BPF.jgt, BPF.jge, BPF.jset, BPF.jne, BPF.jsgt, BPF.jsge, BPF.jlt, BPF.jle, BPF.jslt, BPF.jsle] {
                known[Int(op | cls)] = true
                known[Int(op | cls | BPF.sourceX)] = true
            }
        }
        for op in [BPF.jaOp, BPF.ja32Op, BPF.callOp, BPF.callxOp, BPF.exitOp, BPF.lddw, BPF.atomic32, BPF.atomic64,
                   0x61, 0x69, 0x71, 0x79, 0x81, 0x89, 0x91, 0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b] {
            known[Int(op)] = true
        }
        return known
    }()

    /// Why instruction `index` is invalid, or `nil`. The opcode is checked first, then the
    /// registers, then the fields the operation gives a meaning.
    func check(_ program: Program, at index: Int, wideTail: [Bool]) -> String? {
        let ins = program.instructions[index]
        guard Self.knownOpcodes[Int(ins.opcode)] else { return "unknown opcode 0x\(Disassembler.hex(ins.opcode))" }
        guard ins.dst <= 10 else { return "invalid destination register r\(ins.dst)" }
        let srcIsRegister = !(ins.opcode == BPF.lddw || ins.opcode == BPF.callOp)
        guard !srcIsRegister || ins.src <= 10 else { return "invalid source register r\(ins.src)" }

        func target(_ relative: Int64, _ what: String) -> String? {
            let t = Int64(index) + 1 + relative
            guard t >= 0 && t < Int64(program.instructions.count) else { return "\(what) target \(t) is outside the program" }
            return wideTail[Int(t)] ? "\(what) target \(t) is the second half of an lddw" : nil
        }

        switch ins.instructionClass {
        case BPF.classALU, BPF.classALU64:
            if let reason = checkALU(ins) { return reason }
            return ins.dst == BPF.frameRegister ? "r10 is read-only" : nil
        case BPF.classJMP, BPF.classJMP32:
            switch ins.opcode {
            case BPF.ja32Op: return target(Int64(ins.imm), "jump")
            case BPF.exitOp, BPF.callxOp: return nil
            case BPF.callOp:
                switch ins.src {
                case 0: return helpers[Int64(ins.imm)] == nil ? "unknown helper \(HelperID.describe(ins.imm))" : nil
                case BPF.pseudoCall: return target(Int64(ins.imm), "call")
                default: return "unsupported call kind (src=\(ins.src))"
                }
            default: return target(Int64(ins.offset), "jump")
            }
        case BPF.classLD:
            return checkWideLoad(program, at: index)
        case BPF.classLDX:
            return ins.dst == BPF.frameRegister ? "r10 is read-only" : nil
        case BPF.classST:
            return nil
        default: // STX
            guard ins.opcode == BPF.atomic32 || ins.opcode == BPF.atomic64 else { return nil }
            guard [0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, BPF.atomicXchg, BPF.atomicCmpxchg].contains(ins.imm) else {
                return "unknown atomic operation 0x\(String(ins.imm, radix: 16))"
            }
            let fetches = ins.imm & BPF.atomicFetch != 0 && ins.imm != BPF.atomicCmpxchg
            return fetches && ins.src == BPF.frameRegister ? "r10 is read-only" : nil
        }
    }

    /// Fields of a known arithmetic opcode.
    func checkALU(_ ins: Instruction) -> String? {
        switch ins.operation {
        case BPF.end:
            return ins.imm == 16 || ins.imm == 32 || ins.imm == 64 ? nil : "invalid byte-swap width \(ins.imm)"
        case BPF.div, BPF.mod:
            return ins.offset == 0 || ins.offset == 1 ? nil : "invalid offset \(ins.offset) for division"
        case BPF.mov:
            guard ins.offset != 0 else { return nil }
            let widths: [Int16] = ins.instructionClass == BPF.classALU64 ? [8, 16, 32] : [8, 16]
            return ins.usesRegisterSource && widths.contains(ins.offset) ? nil : "invalid sign-extension width \(ins.offset)"
        default:
            return ins.offset == 0 ? nil : "invalid offset \(ins.offset) for an arithmetic instruction"
        }
    }

    func checkWideLoad(_ program: Program, at index: Int) -> String? {
        let ins = program.instructions
        guard index + 1 < ins.count else { return "lddw is missing its second slot" }
        let high = ins[index + 1]
        guard high.opcode == 0 && high.dst == 0 && high.src == 0 && high.offset == 0 else {
            return "malformed second slot of lddw"
        }
        guard ins[index].dst != BPF.frameRegister else { return "r10 is read-only" }
        let fd = ins[index].imm
        switch ins[index].src {
        case 0:
            return nil
        case BPF.pseudoMapFD:
            guard high.imm == 0 else { return "malformed second slot of lddw" }
            guard let maps else { return "map fd \(fd) cannot be resolved: no maps are available" }
            return maps.map(fd: fd) == nil ? "map fd \(fd) does not exist" : nil
        case BPF.pseudoMapValue:
            guard let maps else { return "map fd \(fd) cannot be resolved: no maps are available" }
            guard let value = maps.globalValue(fd: fd) else { return "map fd \(fd) has no global value" }
            return high.imm >= 0 && Int(high.imm) < value.count ? nil
                : "offset \(high.imm) is outside map fd \(fd)'s \(value.count)-byte value"
        default:
            return "unsupported lddw source \(ins[index].src)"
        }
    }
}

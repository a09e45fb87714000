/// eBPF assembly in the syntax of the conformance suite's `.data` files (the syntax its assembler
/// reads back): `mov %r0, 0`, `add32 %r0, %r1`, `ldxdw %r0, [%r1+8]`, `jne %r1, 0, +3`.
public enum Disassembler {
    static let aluNames: [UInt8: String] = [
        BPF.add: "add", BPF.sub: "sub", BPF.mul: "mul", BPF.div: "div", BPF.or: "or", BPF.and: "and",
        BPF.lsh: "lsh", BPF.rsh: "rsh", BPF.neg: "neg", BPF.mod: "mod", BPF.xor: "xor", BPF.mov: "mov",
        BPF.arsh: "arsh",
    ]
    static let jumpNames: [UInt8: String] = [
        BPF.jeq: "jeq", BPF.jgt: "jgt", BPF.jge: "jge", BPF.jset: "jset", BPF.jne: "jne", BPF.jsgt: "jsgt",
        BPF.jsge: "jsge", BPF.jlt: "jlt", BPF.jle: "jle", BPF.jslt: "jslt", BPF.jsle: "jsle",
    ]
    static let sizeNames: [UInt8: String] = [BPF.sizeW: "w", BPF.sizeH: "h", BPF.sizeB: "b", BPF.sizeDW: "dw"]
    static let atomicNames: [Int32: String] = [0x00: "add", 0x40: "or", 0x50: "and", 0xa0: "xor"]

    /// One instruction; `next` is the following slot, needed for `lddw`.
    public static func text(of ins: Instruction, next: Instruction? = nil) -> String {
        let dst = "%r\(ins.dst)", src = "%r\(ins.src)"
        switch ins.instructionClass {
        case BPF.classALU, BPF.classALU64:
            return alu(ins, dst: dst, src: src)
        case BPF.classJMP, BPF.classJMP32:
            return jump(ins, dst: dst, src: src)
        case BPF.classLD where ins.opcode == BPF.lddw:
            let high = next.map { UInt64(UInt32(bitPattern: $0.imm)) << 32 } ?? 0
            switch ins.src {
            case BPF.pseudoMapFD: return "lddw \(dst), map_fd \(ins.imm)"
            case BPF.pseudoMapValue: return "lddw \(dst), map_value \(ins.imm)\(signed(Int64(next?.imm ?? 0)))"
            default: return "lddw \(dst), 0x\(String(high | UInt64(UInt32(bitPattern: ins.imm)), radix: 16))"
            }
        case BPF.classLDX:
            guard let size = sizeNames[ins.opcode & 0x18] else { break }
            switch ins.opcode & 0xe0 {
            case BPF.modeMEM: return "ldx\(size) \(dst), \(memory(src, ins.offset))"
            case BPF.modeMEMSX: return "ldxs\(size) \(dst), \(memory(src, ins.offset))"
            default: break
            }
        case BPF.classST where ins.opcode & 0xe0 == BPF.modeMEM:
            return "st\(sizeNames[ins.opcode & 0x18] ?? "?") \(memory(dst, ins.offset)), \(ins.imm)"
        case BPF.classSTX:
            let size = ins.opcode & 0x18
            switch ins.opcode & 0xe0 {
            case BPF.modeMEM: return "stx\(sizeNames[size] ?? "?") \(memory(dst, ins.offset)), \(src)"
            case BPF.modeATOMIC where size == BPF.sizeW || size == BPF.sizeDW:
                let suffix = size == BPF.sizeW ? "32" : ""
                let operand = "\(memory(dst, ins.offset)), \(src)"
                switch ins.imm {
                case BPF.atomicXchg: return "lock xchg\(suffix) \(operand)"
                case BPF.atomicCmpxchg: return "lock cmpxchg\(suffix) \(operand)"
                default:
                    guard let name = atomicNames[ins.imm & ~BPF.atomicFetch] else { break }
                    let fetch = ins.imm & BPF.atomicFetch != 0 ? "fetch " : ""
                    return "lock \(fetch)\(name)\(suffix) \(operand)"
                }
            default: break
            }
        default: break
        }
        return "unknown 0x\(hex(ins.opcode))"
    }

    static func alu(_ ins: Instruction, dst: String, src: String) -> String {
        let is64 = ins.instructionClass == BPF.classALU64
        let suffix = is64 ? "" : "32"
        let operand = ins.usesRegisterSource ? src : "\(ins.imm)"
        switch ins.operation {
        case BPF.end:
            if is64 { return "bswap\(ins.imm) \(dst)" }
            return "\(ins.usesRegisterSource ? "be" : "le")\(ins.imm) \(dst)"
        case BPF.neg:
            return "neg\(suffix) \(dst)"
        case BPF.div where ins.offset == 1, BPF.mod where ins.offset == 1:
            return "s\(aluNames[ins.operation] ?? "?")\(suffix) \(dst), \(operand)"
        case BPF.mov where ins.offset != 0:
            return "movsx\(ins.offset)\(is64 ? "64" : "32") \(dst), \(operand)"
        default:
            guard let name = aluNames[ins.operation] else { return "unknown 0x\(hex(ins.opcode))" }
            return "\(name)\(suffix) \(dst), \(operand)"
        }
    }

    static func jump(_ ins: Instruction, dst: String, src: String) -> String {
        let is32 = ins.instructionClass == BPF.classJMP32
        switch ins.opcode {
        case BPF.jaOp: return "ja \(signed(Int64(ins.offset)))"
        case BPF.ja32Op: return "ja32 \(signed(Int64(ins.imm)))"
        case BPF.exitOp: return "exit"
        case BPF.callxOp: return "call \(dst)"
        case BPF.callOp:
            switch ins.src {
            case BPF.pseudoCall: return "call local \(signed(Int64(ins.imm)))"
            case 0: return "call \(ins.imm)"
            default: return "call runtime \(ins.imm)"
            }
        default:
            guard let name = jumpNames[ins.operation] else { return "unknown 0x\(hex(ins.opcode))" }
            let operand = ins.usesRegisterSource ? src : "\(ins.imm)"
            return "\(name)\(is32 ? "32" : "") \(dst), \(operand), \(signed(Int64(ins.offset)))"
        }
    }

    static func memory(_ base: String, _ offset: Int16) -> String { "[\(base)\(signed(Int64(offset)))]" }
    static func signed(_ value: Int64) -> String { value < 0 ? "\(value)" : "+\(value)" }
    static func hex(_ byte: UInt8) -> String { byte < 16 ? "0\(String(byte, radix: 16))" : String(byte, radix: 16) }

    /// The text of instruction `index` of `program` (the second half of an `lddw` included).
    public static func text(of program: Program, at index: Int) -> String {
        let ins = program.instructions
        guard index >= 0 && index < ins.count else { return "?" }
        return text(of: ins[index], next: index + 1 < ins.count ? ins[index + 1] : nil)
    }

    /// `prog dump`: one line per slot, `index: bytes  assembly` (an lddw's second slot has no text).
    public static func listing(of program: Program) -> String {
        var lines: [String] = []
        let ins = program.instructions
        let width = String(max(ins.count - 1, 0)).count
        var index = 0
        while index < ins.count {
            let bytes = ins[index].bytes.map(hex).joined(separator: " ")
            let number = String(repeating: " ", count: width - String(index).count) + String(index)
            lines.append("\(number): \(bytes)  \(text(of: program, at: index))")
            if ins[index].isWide && index + 1 < ins.count {
                index += 1
                let second = ins[index].bytes.map(hex).joined(separator: " ")
                lines.append(String(repeating: " ", count: width - String(index).count) + "\(index): \(second)")
            }
            index += 1
        }
        return lines.joined(separator: "\n")
    }
}

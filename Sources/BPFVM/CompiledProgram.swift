/// One pre-decoded slot for the interpreter: 16 bytes, fields widened so the loop does no
/// decoding. Jump and call offsets (in `offset`) are relative to the next slot, immediates are
/// sign-extended, an `lddw` carries its whole 64-bit value (map handle or global address
/// resolved), and a few variants get opcodes of their own (see `InternalOpcode`). `operation`
/// (in what would be padding) is what the interpreter dispatches on.
struct DecodedInstruction {
    var opcode: UInt8
    var dst: UInt8
    var src: UInt8
    var operation: InterpreterOperation = .invalid
    var offset: Int32
    var imm: Int64

    /// Whether this is a compare-and-jump (`JumpCondition`) whose target is the slot after next.
    var jumpsOverOne: Bool { offset == 1 && JumpCondition.code(opcode) != 0 }
}

/// Opcodes the decoder gives variants the ISA distinguishes by another field; they use
/// encodings the ISA leaves unassigned, so they never collide with a real instruction.
enum InternalOpcode {
    /// `call` with src=1: `offset` leads from the next slot to the callee's first.
    static let localCall: UInt8 = 0xf5
    /// Operation nibble replacing div/mod's when offset is 1 (signed); ALU ops 0xe0 and 0xf0 are
    /// unassigned, so sdiv64 by register becomes 0xef, smod32 by immediate 0xf4, and so on.
    static let sdiv: UInt8 = 0xe0, smod: UInt8 = 0xf0
    /// `mov` with a sign-extension width in `offset` (class LD opcodes other than lddw are unassigned).
    static let movsx32: UInt8 = 0x08, movsx64: UInt8 = 0x10
}

/// A validated program, decoded for the interpreter. Owns its decoded array.
final class CompiledProgram {
    let program: Program
    let code: UnsafeMutableBufferPointer<DecodedInstruction>

    /// Decodes a program the validator accepted. Map pseudo-loads become map handles (slots in
    /// `environment`) or global addresses, whose regions are granted for good in `state`.
    init(_ program: Program, environment: HelperEnvironment, state: UnsafeMutablePointer<RunState>) throws {
        self.program = program
        let ins = program.instructions
        code = .allocate(capacity: ins.count)
        code.initialize(repeating: DecodedInstruction(opcode: 0, dst: 0, src: 0, offset: 0, imm: 0))
        for (index, i) in ins.enumerated() {
            var d = DecodedInstruction(opcode: i.opcode, dst: i.dst, src: i.src, offset: Int32(i.offset), imm: Int64(i.imm))
            switch i.opcode {
            case BPF.ja32Op:
                d.opcode = BPF.jaOp
                d.offset = i.imm
            case BPF.callOp where i.isLocalCall:
                d.opcode = InternalOpcode.localCall
                d.offset = i.imm
            case BPF.lddw where index + 1 < ins.count:
                d.imm = Int64(bitPattern: try Self.wideValue(program, at: index, environment, state))
            default:
                let cls = i.instructionClass
                if cls == BPF.classALU || cls == BPF.classALU64 { d.opcode = Self.aluVariant(i) }
            }
            d.operation = InterpreterOperation(opcode: d.opcode)
            code[index] = d
        }
        Self.fusePairs(code)
    }

    deinit { code.deallocate() }

    /// Gives the interpreter's fused steps (`InterpreterOperation.fused`) to the pairs that have one.
    static func fusePairs(_ code: UnsafeMutableBufferPointer<DecodedInstruction>) {
        for index in code.indices.dropLast() {
            if let pair = InterpreterOperation.fused(code[index], code[index + 1]) {
                code[index].operation = pair
            }
        }
    }

    static func aluVariant(_ i: Instruction) -> UInt8 {
        switch i.operation {
        case BPF.div where i.offset == 1: return i.opcode & 0x0f | InternalOpcode.sdiv
        case BPF.mod where i.offset == 1: return i.opcode & 0x0f | InternalOpcode.smod
        case BPF.mov where i.offset != 0:
            return i.instructionClass == BPF.classALU64 ? InternalOpcode.movsx64 : InternalOpcode.movsx32
        default: return i.opcode
        }
    }

    static func wideValue(_ program: Program, at index: Int, _ environment: HelperEnvironment,
                          _ state: UnsafeMutablePointer<RunState>) throws -> UInt64 {
        let low = program.instructions[index], high = program.instructions[index + 1]
        func failure(_ reason: String) -> VMError {
            VMError(.rejected, reason, index: index, instruction: Disassembler.text(of: program, at: index))
        }
        switch low.src {
        case BPF.pseudoMapFD:
            guard let info = environment.maps.map(fd: low.imm) else { throw failure("map fd \(low.imm) does not exist") }
            return MapHandle.value(slot: environment.slot(forMap: low.imm, info: info))
        case BPF.pseudoMapValue:
            guard let value = environment.maps.globalValue(fd: low.imm), let base = value.baseAddress,
                  high.imm >= 0, Int(high.imm) < value.count else {
                throw failure("map fd \(low.imm) has no global value at offset \(high.imm)")
            }
            let writable = !(environment.maps.map(fd: low.imm)?.readOnly ?? false)
            let start = UInt64(UInt(bitPattern: base))
            guard state.pointee.addPermanent(low: start, high: start + UInt64(value.count), writable: writable) else {
                throw failure("too many global variable regions")
            }
            return start + UInt64(high.imm)
        default:
            return Program.wideValue(low, high)
        }
    }
}

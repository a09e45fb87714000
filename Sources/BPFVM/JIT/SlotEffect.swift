/// What one slot does on the way to the next, for the JIT's walks through straight-line code:
/// `lastWrite(of:before:)` back from a helper call, and a versioned loop's body.
enum SlotEffect: Equatable {
    /// Loads, ALU operations and an `lddw` (at its first slot): the slot writes this register
    /// and no other.
    case writes(UInt8)
    /// Stores: memory only.
    case writesNoRegister
    /// Anything else: jumps, calls, exits, atomics, legacy packet loads, and an `lddw`'s second
    /// slot, so that a walk meeting it one slot at a time stops there.
    case leavesBlock

    init(of i: DecodedInstruction) {
        let mode = i.opcode & 0xe0
        switch i.opcode & 7 {
        case BPF.classALU, BPF.classALU64:
            self = .writes(i.dst)
        case BPF.classLDX where mode == BPF.modeMEM || mode == BPF.modeMEMSX:
            self = .writes(i.dst)
        case BPF.classST where mode == BPF.modeMEM, BPF.classSTX where mode == BPF.modeMEM:
            self = .writesNoRegister
        case BPF.classLD where i.opcode == BPF.lddw || i.opcode == InternalOpcode.movsx32 || i.opcode == InternalOpcode.movsx64:
            self = .writes(i.dst)
        default:
            self = .leavesBlock
        }
    }
}

/// What the interpreter does for one slot: one case per operation, decoded once from the opcode
/// (and `InternalOpcode`). The interpreter switches over this dense enum, which the compiler turns
/// into a single jump table; a switch over the sparse opcode byte was split into several tables
/// and compare chains (2-3 dispatch steps for loads and jumps).
enum InterpreterOperation {
    // ALU64
    case add64K, add64X, sub64K, sub64X, mul64K, mul64X, div64K, div64X, or64K, or64X, and64K, and64X,
        lsh64K, lsh64X, rsh64K, rsh64X, neg64, mod64K, mod64X, xor64K, xor64X, mov64K, mov64X, arsh64K,
        arsh64X, byteSwap, sdiv64K, sdiv64X, smod64K, smod64X, movsx64
    // ALU32
    case add32K, add32X, sub32K, sub32X, mul32K, mul32X, div32K, div32X, or32K, or32X, and32K, and32X,
        lsh32K, lsh32X, rsh32K, rsh32X, neg32, mod32K, mod32X, xor32K, xor32X, mov32K, mov32X, arsh32K,
        arsh32X, truncate, sdiv32K, sdiv32X, smod32K, smod32X, movsx32
    // 64-bit immediate, loads, stores, atomics
    case lddw, loadU32, loadU16, loadU8, load64, loadS32, loadS16, loadS8, store32K, store32X, store16K,
        store16X, store8K, store8X, store64K, store64X, atomic32, atomic64
    // Jumps (JMP, then JMP32)
    case ja, jeqK, jeqX, jgtK, jgtX, jgeK, jgeX, jsetK, jsetX, jneK, jneX, jsgtK, jsgtX, jsgeK, jsgeX,
        jltK, jltX, jleK, jleX, jsltK, jsltX, jsleK, jsleX, jeq32K, jeq32X, jgt32K, jgt32X, jge32K,
        jge32X, jset32K, jset32X, jne32K, jne32X, jsgt32K, jsgt32X, jsge32K, jsge32X, jlt32K, jlt32X,
        jle32K, jle32X, jslt32K, jslt32X, jsle32K, jsle32X
    // Calls and exit
    case localCall, call, callx, exit
    /// Pairs run as one step (see `fused`): the loop latch (a counter stepped by an immediate, then
    /// `jne`), a load accumulated into a register, and a register copied and then offset or
    /// shifted by an immediate (`r2 = r10; r2 += -4` before a helper call, `r1 = r0; r1 >>= 32`),
    /// whose copy then goes from register to register without a trip through memory.
    case add64KJneK, add64KJneX, sub64KJneK, sub64KJneX, load64Add64X, mov64XAdd64K, mov64XRsh64K
    /// A multiply-accumulate step on one register (`h = h * K + x`, as polynomial hashes do), the
    /// product kept in a host register.
    case mul64KAdd64X
    /// A conditional jump that skips only the next instruction, an add of an immediate or a move,
    /// 64- or 32-bit (`if (x < 128) goto +1; n += 1`, `w0 = 1; if r1 s< r2 goto +1; w0 = 0`), runs
    /// as a masked update of the register: no branch on the program's data, which the CPU would
    /// mispredict half the time on random data, and the next slot dispatched is the same whichever
    /// way the jump goes.
    case jumpOverAdd64K, jumpOverAdd32K, jumpOverMovK, jumpOverMovX
    /// An opcode the validator does not admit (never decoded for a validated program).
    case invalid

    /// The step that runs `first` and then the slot after it, when there is one. The second slot
    /// keeps its own operation (a jump may land on it), is counted and budgeted like any other,
    /// and its fields are read from that slot.
    static func fused(_ first: DecodedInstruction, _ second: DecodedInstruction) -> InterpreterOperation? {
        switch (first.operation, second.operation) {
        case (.add64K, .jneK): .add64KJneK
        case (.add64K, .jneX): .add64KJneX
        case (.sub64K, .jneK): .sub64KJneK
        case (.sub64K, .jneX): .sub64KJneX
        case (.load64, .add64X): .load64Add64X
        case (.mov64X, .add64K) where second.dst == first.dst: .mov64XAdd64K
        case (.mov64X, .rsh64K) where second.dst == first.dst: .mov64XRsh64K
        case (.mul64K, .add64X) where second.dst == first.dst: .mul64KAdd64X
        case (_, .add64K) where first.jumpsOverOne: .jumpOverAdd64K
        case (_, .add32K) where first.jumpsOverOne: .jumpOverAdd32K
        case (_, .mov64K), (_, .mov32K): first.jumpsOverOne ? .jumpOverMovK : nil
        case (_, .mov64X), (_, .mov32X): first.jumpsOverOne ? .jumpOverMovX : nil
        default: nil
        }
    }

    /// The operation of a decoded opcode (`DecodedInstruction.opcode`).
    init(opcode: UInt8) {
        switch opcode {
        case 0x07: self = .add64K
        case 0x0f: self = .add64X
        case 0x17: self = .sub64K
        case 0x1f: self = .sub64X
        case 0x27: self = .mul64K
        case 0x2f: self = .mul64X
        case 0x37: self = .div64K
        case 0x3f: self = .div64X
        case 0x47: self = .or64K
        case 0x4f: self = .or64X
        case 0x57: self = .and64K
        case 0x5f: self = .and64X
        case 0x67: self = .lsh64K
        case 0x6f: self = .lsh64X
        case 0x77: self = .rsh64K
        case 0x7f: self = .rsh64X
        case 0x87: self = .neg64
        case 0x97: self = .mod64K
        case 0x9f: self = .mod64X
        case 0xa7: self = .xor64K
        case 0xaf: self = .xor64X
        case 0xb7: self = .mov64K
        case 0xbf: self = .mov64X
        case 0xc7: self = .arsh64K
        case 0xcf: self = .arsh64X
        case 0xd7: self = .byteSwap
        case 0xdc: self = .byteSwap
        case 0xe7: self = .sdiv64K
        case 0xef: self = .sdiv64X
        case 0xf7: self = .smod64K
        case 0xff: self = .smod64X
        case 0x10: self = .movsx64
        case 0x04: self = .add32K
        case 0x0c: self = .add32X
        case 0x14: self = .sub32K
        case 0x1c: self = .sub32X
        case 0x24: self = .mul32K
        case 0x2c: self = .mul32X
        case 0x34: self = .div32K
        case 0x3c: self = .div32X
        case 0x44: self = .or32K
        case 0x4c: self = .or32X
        case 0x54: self = .and32K
        case 0x5c: self = .and32X
        case 0x64: self = .lsh32K
        case 0x6c: self = .lsh32X
        case 0x74: self = .rsh32K
        case 0x7c: self = .rsh32X
        case 0x84: self = .neg32
        case 0x94: self = .mod32K
        case 0x9c: self = .mod32X
        case 0xa4: self = .xor32K
        case 0xac: self = .xor32X
        case 0xb4: self = .mov32K
        case 0xbc: self = .mov32X
        case 0xc4: self = .arsh32K
        case 0xcc: self = .arsh32X
        case 0xd4: self = .truncate
        case 0xe4: self = .sdiv32K
        case 0xec: self = .sdiv32X
        case 0xf4: self = .smod32K
        case 0xfc: self = .smod32X
        case 0x08: self = .movsx32
        case 0x18: self = .lddw
        case 0x61: self = .loadU32
        case 0x69: self = .loadU16
        case 0x71: self = .loadU8
        case 0x79: self = .load64
        case 0x81: self = .loadS32
        case 0x89: self = .loadS16
        case 0x91: self = .loadS8
        case 0x62: self = .store32K
        case 0x63: self = .store32X
        case 0x6a: self = .store16K
        case 0x6b: self = .store16X
        case 0x72: self = .store8K
        case 0x73: self = .store8X
        case 0x7a: self = .store64K
        case 0x7b: self = .store64X
        case 0xc3: self = .atomic32
        case 0xdb: self = .atomic64
        case 0x05: self = .ja
        case 0x15: self = .jeqK
        case 0x1d: self = .jeqX
        case 0x25: self = .jgtK
        case 0x2d: self = .jgtX
        case 0x35: self = .jgeK
        case 0x3d: self = .jgeX
        case 0x45: self = .jsetK
        case 0x4d: self = .jsetX
        case 0x55: self = .jneK
        case 0x5d: self = .jneX
        case 0x65: self = .jsgtK
        case 0x6d: self = .jsgtX
        case 0x75: self = .jsgeK
        case 0x7d: self = .jsgeX
        case 0xa5: self = .jltK
        case 0xad: self = .jltX
        case 0xb5: self = .jleK
        case 0xbd: self = .jleX
        case 0xc5: self = .jsltK
        case 0xcd: self = .jsltX
        case 0xd5: self = .jsleK
        case 0xdd: self = .jsleX
        case 0x16: self = .jeq32K
        case 0x1e: self = .jeq32X
        case 0x26: self = .jgt32K
        case 0x2e: self = .jgt32X
        case 0x36: self = .jge32K
        case 0x3e: self = .jge32X
        case 0x46: self = .jset32K
        case 0x4e: self = .jset32X
        case 0x56: self = .jne32K
        case 0x5e: self = .jne32X
        case 0x66: self = .jsgt32K
        case 0x6e: self = .jsgt32X
        case 0x76: self = .jsge32K
        case 0x7e: self = .jsge32X
        case 0xa6: self = .jlt32K
        case 0xae: self = .jlt32X
        case 0xb6: self = .jle32K
        case 0xbe: self = .jle32X
        case 0xc6: self = .jslt32K
        case 0xce: self = .jslt32X
        case 0xd6: self = .jsle32K
        case 0xde: self = .jsle32X
        case 0xf5: self = .localCall
        case 0x85: self = .call
        case 0x8d: self = .callx
        case 0x95: self = .exit
        default: self = .invalid
        }
    }
}

import CHints
import Synchronization

/// The interpreter loop: a switch over pre-decoded 16-byte instructions' operations, registers in a raw
/// buffer, memory accesses checked as range compares (stack, then input, then granted regions).
///
/// It is the reference semantics other engines (the JIT) must reproduce exactly:
/// - A load/store/atomic of n bytes at `a` is allowed when `[a, a+n)` lies in the active frames
///   `[RunState.stackLow, stackHigh)`, the input, or a granted region (writable for stores);
///   atomics must also be aligned. Otherwise the run ends with `.memoryViolation`.
/// - Helper calls leave r1-r5 unchanged; afterwards a non-zero `RunState.attention` means fault
///   (end with `.helperFault`, the helper's reason) or tail call (continue at the target's first
///   instruction, entry frame, registers unchanged). `callx` calls the helper whose id is in dst.
/// - Local calls save r6-r9, move r10 and `stackLow` down 512 bytes; the call that would make
///   more than `maxCallDepth` frames ends the run with `.stackOverflow`.
/// - With a budget, the instruction that would be number `maxInstructions + 1` is not executed
///   and is the one reported (`.budgetExceeded`); an lddw counts once.
/// - Errors name the instruction through `error(_:at:in:)`, so every engine words them the same.
extension VirtualMachine {
    enum Failure {
        case memory(address: UInt64, size: UInt64, write: Bool)
        case misalignedAtomic(address: UInt64)
        case budget
        case stackOverflow
        case unknownHelper(UInt64)
        case helperFault(String)
        case rejectedTailCall(VMError)
    }

    /// Whether the loop checks the instruction budget: two specialized copies of the loop, so runs
    /// without a budget pay nothing for it.
    protocol BudgetMode { static var checked: Bool { get } }
    enum Budgeted: BudgetMode { static var checked: Bool { true } }
    enum Unbudgeted: BudgetMode { static var checked: Bool { false } }

    func execute(_ entry: CompiledProgram) throws -> UInt64 {
        budget == Int64.max ? try execute(entry, Unbudgeted.self) : try execute(entry, Budgeted.self)
    }

    func execute<Mode: BudgetMode>(_ entry: CompiledProgram, _: Mode.Type) throws -> UInt64 {
        var tailCalled: CompiledProgram?   // the running program after a tail call
        var code = entry.code.baseAddress.unsafelyUnwrapped
        let r = registers
        let s = state
        let stateRaw = UnsafeMutableRawPointer(s)
        let helpers = helperEntries
        let frameSize = UInt64(BPF.stackFrameSize)
        let maxDepth = self.maxDepth
        let stackHigh = s.pointee.stackHigh
        var stackLow = s.pointee.stackLow
        var stackSpan = stackHigh &- stackLow
        let inputLow = s.pointee.inputLow
        let inputSpan = s.pointee.inputHigh &- inputLow
        let budget = self.budget
        var remaining = budget
        var depth = 0
        var ip = code   // the next instruction
        var failure: Failure?

        /// Whether the program may access `size` bytes at `a` (for writing when `write`). The
        /// active frames come as arguments: a nested function capturing the mutable `stackLow` and
        /// `stackSpan` would make them boxed variables, dynamically checked for exclusivity.
        @inline(__always)
        func allowed(_ a: UInt64, _ size: UInt64, _ write: Bool, _ stackLow: UInt64, _ stackSpan: UInt64) -> Bool {
            if a &- stackLow <= stackSpan &- size { return true }
            let o = a &- inputLow
            if o <= inputSpan && inputSpan &- o >= size { return true }
            return Self.grantedAllows(s, a, size, write)
        }
        @inline(__always) func ptr(_ a: UInt64) -> UnsafeMutableRawPointer {
            UnsafeMutableRawPointer(bitPattern: UInt(truncatingIfNeeded: a)).unsafelyUnwrapped
        }
        @inline(__always) func w(_ x: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: x) }
        /// r[dst] = the `T` at r[src] + offset, extended to 64 bits; false (failure set) when not allowed.
        @inline(__always)
        func load<T: FixedWidthInteger>(_: T.Type, _ i: DecodedInstruction, _ stackLow: UInt64, _ stackSpan: UInt64,
                                        _ failure: inout Failure?) -> Bool {
            let a = r[Int(i.src)] &+ UInt64(bitPattern: Int64(i.offset))
            let size = UInt64(MemoryLayout<T>.size)
            guard allowed(a, size, false, stackLow, stackSpan) else { failure = .memory(address: a, size: size, write: false); return false }
            r[Int(i.dst)] = UInt64(truncatingIfNeeded: ptr(a).loadUnaligned(as: T.self))
            return true
        }
        /// Stores `value`'s low `T` bytes at r[dst] + offset; false (failure set) when not allowed.
        @inline(__always)
        func store<T: FixedWidthInteger>(_: T.Type, _ value: UInt64, _ i: DecodedInstruction, _ stackLow: UInt64, _ stackSpan: UInt64,
                                         _ failure: inout Failure?) -> Bool {
            let a = r[Int(i.dst)] &+ UInt64(bitPattern: Int64(i.offset))
            let size = UInt64(MemoryLayout<T>.size)
            guard allowed(a, size, true, stackLow, stackSpan) else { failure = .memory(address: a, size: size, write: true); return false }
            ptr(a).storeBytes(of: T(truncatingIfNeeded: value), as: T.self)
            return true
        }
        /// r[dst] + offset when an atomic of `size` bytes may use it; nil (failure set) otherwise.
        @inline(__always)
        func atomicAddress(_ size: UInt64, _ i: DecodedInstruction, _ stackLow: UInt64, _ stackSpan: UInt64,
                           _ failure: inout Failure?) -> UInt64? {
            let a = r[Int(i.dst)] &+ UInt64(bitPattern: Int64(i.offset))
            guard allowed(a, size, true, stackLow, stackSpan) else { failure = .memory(address: a, size: size, write: true); return nil }
            guard a & (size - 1) == 0 else { failure = .misalignedAtomic(address: a); return nil }
            return a
        }

        /// The second slot of a fused pair, entered as the loop top enters a slot; nil when the
        /// budget does not cover it.
        @inline(__always)
        func second(_ ip: inout UnsafeMutablePointer<DecodedInstruction>, _ remaining: inout Int64) -> DecodedInstruction? {
            let n = ip.pointee
            ip += 1
            remaining &-= 1
            return Mode.checked && remaining < 0 ? nil : n
        }

        /// The slot a jump over one (`.jumpOver…`) may skip, and all ones when it runs (the jump
        /// falls through), zero when it is skipped; nil when the budget does not cover it.
        /// The mask is opaque to the optimizer, which would turn the masked update back into a branch.
        @inline(__always)
        func skippable(_ i: DecodedInstruction, _ ip: inout UnsafeMutablePointer<DecodedInstruction>,
                       _ remaining: inout Int64) -> (next: DecodedInstruction, runs: UInt64)? {
            let operand = i.opcode & BPF.sourceX != 0 ? r[Int(i.src)] : UInt64(bitPattern: i.imm)
            let runs = bpf_opaque(JumpCondition.holds(i.opcode, r[Int(i.dst)], operand) ? 0 : .max)
            let n = ip.pointee
            ip += 1
            remaining &+= Int64(bitPattern: runs)   // -1: the skippable slot is counted when it runs
            return Mode.checked && remaining < 0 ? nil : (n, runs)
        }
        /// The bits an ALU instruction's result keeps: all for ALU64 (class 7), the low 32 for ALU
        /// (class 4), whose results are zero-extended.
        @inline(__always) func resultBits(_ n: DecodedInstruction) -> UInt64 {
            UInt64.max &>> (UInt64(~n.opcode & 0x01) &* 32)
        }

        run: while true {
            let i = ip.pointee
            ip += 1
            remaining &-= 1
            if Mode.checked && remaining < 0 { failure = .budget; break }
            let d = Int(i.dst), sr = Int(i.src)
            let k = UInt64(bitPattern: i.imm)
            switch i.operation {
            // ALU64
            case .add64K: r[d] = r[d] &+ k
            case .add64X: r[d] = r[d] &+ r[sr]
            case .sub64K: r[d] = r[d] &- k
            case .sub64X: r[d] = r[d] &- r[sr]
            case .mul64K: r[d] = r[d] &* k
            case .mul64X: r[d] = r[d] &* r[sr]
            case .div64K: r[d] = k == 0 ? 0 : r[d] / k
            case .div64X: let v = r[sr]; r[d] = v == 0 ? 0 : r[d] / v
            case .or64K: r[d] |= k
            case .or64X: r[d] |= r[sr]
            case .and64K: r[d] &= k
            case .and64X: r[d] &= r[sr]
            case .lsh64K: r[d] = r[d] &<< k
            case .lsh64X: r[d] = r[d] &<< r[sr]
            case .rsh64K: r[d] = r[d] &>> k
            case .rsh64X: r[d] = r[d] &>> r[sr]
            case .neg64: r[d] = 0 &- r[d]
            case .mod64K: if k != 0 { r[d] = r[d] % k }
            case .mod64X: let v = r[sr]; if v != 0 { r[d] = r[d] % v }
            case .xor64K: r[d] ^= k
            case .xor64X: r[d] ^= r[sr]
            case .mov64K: r[d] = k
            case .mov64X: r[d] = r[sr]
            case .arsh64K: r[d] = UInt64(bitPattern: Int64(bitPattern: r[d]) &>> k)
            case .arsh64X: r[d] = UInt64(bitPattern: Int64(bitPattern: r[d]) &>> r[sr])
            case .byteSwap: // bswap; and be (0xdc, an ALU32 opcode), the same on this little-endian host
                switch i.imm {
                case 16: r[d] = UInt64(UInt16(truncatingIfNeeded: r[d]).byteSwapped)
                case 32: r[d] = UInt64(w(r[d]).byteSwapped)
                default: r[d] = r[d].byteSwapped
                }
            // sdiv, smod, movsx: opcodes of their own (see InternalOpcode)
            case .sdiv64K: r[d] = Self.sdiv64(r[d], k)
            case .sdiv64X: r[d] = Self.sdiv64(r[d], r[sr])
            case .smod64K: r[d] = Self.smod64(r[d], k)
            case .smod64X: r[d] = Self.smod64(r[d], r[sr])
            case .movsx64: // movsx64 (InternalOpcode)
                let v = r[sr]
                switch i.offset {
                case 8: r[d] = UInt64(bitPattern: Int64(Int8(truncatingIfNeeded: v)))
                case 16: r[d] = UInt64(bitPattern: Int64(Int16(truncatingIfNeeded: v)))
                default: r[d] = UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: v)))
                }
            // ALU32: operate on the low 32 bits, zero-extend the result.
            case .add32K: r[d] = UInt64(w(r[d]) &+ w(k))
            case .add32X: r[d] = UInt64(w(r[d]) &+ w(r[sr]))
            case .sub32K: r[d] = UInt64(w(r[d]) &- w(k))
            case .sub32X: r[d] = UInt64(w(r[d]) &- w(r[sr]))
            case .mul32K: r[d] = UInt64(w(r[d]) &* w(k))
            case .mul32X: r[d] = UInt64(w(r[d]) &* w(r[sr]))
            case .div32K: let v = w(k); r[d] = v == 0 ? 0 : UInt64(w(r[d]) / v)
            case .div32X: let v = w(r[sr]); r[d] = v == 0 ? 0 : UInt64(w(r[d]) / v)
            case .or32K: r[d] = UInt64(w(r[d]) | w(k))
            case .or32X: r[d] = UInt64(w(r[d]) | w(r[sr]))
            case .and32K: r[d] = UInt64(w(r[d]) & w(k))
            case .and32X: r[d] = UInt64(w(r[d]) & w(r[sr]))
            case .lsh32K: r[d] = UInt64(w(r[d]) &<< w(k))
            case .lsh32X: r[d] = UInt64(w(r[d]) &<< w(r[sr]))
            case .rsh32K: r[d] = UInt64(w(r[d]) &>> w(k))
            case .rsh32X: r[d] = UInt64(w(r[d]) &>> w(r[sr]))
            case .neg32: r[d] = UInt64(0 &- w(r[d]))
            case .mod32K: let v = w(k); r[d] = UInt64(v == 0 ? w(r[d]) : w(r[d]) % v)
            case .mod32X: let v = w(r[sr]); r[d] = UInt64(v == 0 ? w(r[d]) : w(r[d]) % v)
            case .xor32K: r[d] = UInt64(w(r[d]) ^ w(k))
            case .xor32X: r[d] = UInt64(w(r[d]) ^ w(r[sr]))
            case .mov32K: r[d] = UInt64(w(k))
            case .mov32X: r[d] = UInt64(w(r[sr]))
            case .arsh32K: r[d] = UInt64(UInt32(bitPattern: Int32(bitPattern: w(r[d])) &>> w(k)))
            case .arsh32X: r[d] = UInt64(UInt32(bitPattern: Int32(bitPattern: w(r[d])) &>> w(r[sr])))
            case .truncate: // le: the host is little-endian, so only truncate
                switch i.imm {
                case 16: r[d] = r[d] & 0xffff
                case 32: r[d] = r[d] & 0xffff_ffff
                default: break
                }
            // sdiv32, smod32, movsx32 (InternalOpcode)
            case .sdiv32K: r[d] = Self.sdiv32(r[d], k)
            case .sdiv32X: r[d] = Self.sdiv32(r[d], r[sr])
            case .smod32K: r[d] = Self.smod32(r[d], k)
            case .smod32X: r[d] = Self.smod32(r[d], r[sr])
            case .movsx32: // movsx32 (InternalOpcode)
                let v = r[sr]
                let x = i.offset == 8 ? Int32(Int8(truncatingIfNeeded: v)) : Int32(Int16(truncatingIfNeeded: v))
                r[d] = UInt64(UInt32(bitPattern: x))
            // 64-bit immediate (value, map handle or global address resolved by the decoder)
            case .lddw: // lddw
                r[d] = k
                ip += 1
            // Loads (zero- or sign-extending) and stores: one case per opcode, so the switch stays
            // one jump table (a case testing the opcode again gets split out of it).
            case .loadU32: guard load(UInt32.self, i, stackLow, stackSpan, &failure) else { break run }
            case .loadU16: guard load(UInt16.self, i, stackLow, stackSpan, &failure) else { break run }
            case .loadU8: guard load(UInt8.self, i, stackLow, stackSpan, &failure) else { break run }
            case .load64: guard load(UInt64.self, i, stackLow, stackSpan, &failure) else { break run }
            case .loadS32: guard load(Int32.self, i, stackLow, stackSpan, &failure) else { break run }
            case .loadS16: guard load(Int16.self, i, stackLow, stackSpan, &failure) else { break run }
            case .loadS8: guard load(Int8.self, i, stackLow, stackSpan, &failure) else { break run }
            case .store32K: guard store(UInt32.self, k, i, stackLow, stackSpan, &failure) else { break run }
            case .store32X: guard store(UInt32.self, r[sr], i, stackLow, stackSpan, &failure) else { break run }
            case .store16K: guard store(UInt16.self, k, i, stackLow, stackSpan, &failure) else { break run }
            case .store16X: guard store(UInt16.self, r[sr], i, stackLow, stackSpan, &failure) else { break run }
            case .store8K: guard store(UInt8.self, k, i, stackLow, stackSpan, &failure) else { break run }
            case .store8X: guard store(UInt8.self, r[sr], i, stackLow, stackSpan, &failure) else { break run }
            case .store64K: guard store(UInt64.self, k, i, stackLow, stackSpan, &failure) else { break run }
            case .store64X: guard store(UInt64.self, r[sr], i, stackLow, stackSpan, &failure) else { break run }
            // Atomics (aligned, as Linux requires)
            case .atomic32:
                guard let a = atomicAddress(4, i, stackLow, stackSpan, &failure) else { break run }
                Self.atomic32(ptr(a), i.imm, r + sr, r)
            case .atomic64:
                guard let a = atomicAddress(8, i, stackLow, stackSpan, &failure) else { break run }
                Self.atomic64(ptr(a), i.imm, r + sr, r)
            // Jumps: offsets are relative to the next instruction. Weighted as taken so each stays a
            // branch: as a conditional move, the next slot's address would wait for the compare and
            // the loads before it (fnv1a's jlt on each byte: 13% slower, alu_loop's latch 2x).
            case .ja: ip += Int(i.offset)
            case .jeqK: if _fastPath(r[d] == k) { ip += Int(i.offset) }
            case .jeqX: if _fastPath(r[d] == r[sr]) { ip += Int(i.offset) }
            case .jgtK: if _fastPath(r[d] > k) { ip += Int(i.offset) }
            case .jgtX: if _fastPath(r[d] > r[sr]) { ip += Int(i.offset) }
            case .jgeK: if _fastPath(r[d] >= k) { ip += Int(i.offset) }
            case .jgeX: if _fastPath(r[d] >= r[sr]) { ip += Int(i.offset) }
            case .jsetK: if _fastPath(r[d] & k != 0) { ip += Int(i.offset) }
            case .jsetX: if _fastPath(r[d] & r[sr] != 0) { ip += Int(i.offset) }
            case .jneK: if _fastPath(r[d] != k) { ip += Int(i.offset) }
            case .jneX: if _fastPath(r[d] != r[sr]) { ip += Int(i.offset) }
            case .jsgtK: if _fastPath(Int64(bitPattern: r[d]) > i.imm) { ip += Int(i.offset) }
            case .jsgtX: if _fastPath(Int64(bitPattern: r[d]) > Int64(bitPattern: r[sr])) { ip += Int(i.offset) }
            case .jsgeK: if _fastPath(Int64(bitPattern: r[d]) >= i.imm) { ip += Int(i.offset) }
            case .jsgeX: if _fastPath(Int64(bitPattern: r[d]) >= Int64(bitPattern: r[sr])) { ip += Int(i.offset) }
            case .jltK: if _fastPath(r[d] < k) { ip += Int(i.offset) }
            case .jltX: if _fastPath(r[d] < r[sr]) { ip += Int(i.offset) }
            case .jleK: if _fastPath(r[d] <= k) { ip += Int(i.offset) }
            case .jleX: if _fastPath(r[d] <= r[sr]) { ip += Int(i.offset) }
            case .jsltK: if _fastPath(Int64(bitPattern: r[d]) < i.imm) { ip += Int(i.offset) }
            case .jsltX: if _fastPath(Int64(bitPattern: r[d]) < Int64(bitPattern: r[sr])) { ip += Int(i.offset) }
            case .jsleK: if _fastPath(Int64(bitPattern: r[d]) <= i.imm) { ip += Int(i.offset) }
            case .jsleX: if _fastPath(Int64(bitPattern: r[d]) <= Int64(bitPattern: r[sr])) { ip += Int(i.offset) }
            // JMP32: compare the low 32 bits.
            case .jeq32K: if _fastPath(w(r[d]) == w(k)) { ip += Int(i.offset) }
            case .jeq32X: if _fastPath(w(r[d]) == w(r[sr])) { ip += Int(i.offset) }
            case .jgt32K: if _fastPath(w(r[d]) > w(k)) { ip += Int(i.offset) }
            case .jgt32X: if _fastPath(w(r[d]) > w(r[sr])) { ip += Int(i.offset) }
            case .jge32K: if _fastPath(w(r[d]) >= w(k)) { ip += Int(i.offset) }
            case .jge32X: if _fastPath(w(r[d]) >= w(r[sr])) { ip += Int(i.offset) }
            case .jset32K: if _fastPath(w(r[d]) & w(k) != 0) { ip += Int(i.offset) }
            case .jset32X: if _fastPath(w(r[d]) & w(r[sr]) != 0) { ip += Int(i.offset) }
            case .jne32K: if _fastPath(w(r[d]) != w(k)) { ip += Int(i.offset) }
            case .jne32X: if _fastPath(w(r[d]) != w(r[sr])) { ip += Int(i.offset) }
            case .jsgt32K: if _fastPath(Int32(truncatingIfNeeded: r[d]) > Int32(truncatingIfNeeded: k)) { ip += Int(i.offset) }
            case .jsgt32X: if _fastPath(Int32(truncatingIfNeeded: r[d]) > Int32(truncatingIfNeeded: r[sr])) { ip += Int(i.offset) }
            case .jsge32K: if _fastPath(Int32(truncatingIfNeeded: r[d]) >= Int32(truncatingIfNeeded: k)) { ip += Int(i.offset) }
            case .jsge32X: if _fastPath(Int32(truncatingIfNeeded: r[d]) >= Int32(truncatingIfNeeded: r[sr])) { ip += Int(i.offset) }
            case .jlt32K: if _fastPath(w(r[d]) < w(k)) { ip += Int(i.offset) }
            case .jlt32X: if _fastPath(w(r[d]) < w(r[sr])) { ip += Int(i.offset) }
            case .jle32K: if _fastPath(w(r[d]) <= w(k)) { ip += Int(i.offset) }
            case .jle32X: if _fastPath(w(r[d]) <= w(r[sr])) { ip += Int(i.offset) }
            case .jslt32K: if _fastPath(Int32(truncatingIfNeeded: r[d]) < Int32(truncatingIfNeeded: k)) { ip += Int(i.offset) }
            case .jslt32X: if _fastPath(Int32(truncatingIfNeeded: r[d]) < Int32(truncatingIfNeeded: r[sr])) { ip += Int(i.offset) }
            case .jsle32K: if _fastPath(Int32(truncatingIfNeeded: r[d]) <= Int32(truncatingIfNeeded: k)) { ip += Int(i.offset) }
            case .jsle32X: if _fastPath(Int32(truncatingIfNeeded: r[d]) <= Int32(truncatingIfNeeded: r[sr])) { ip += Int(i.offset) }
            // Fused pairs (InterpreterOperation.fused), their jumps kept branches as above.
            case .add64KJneK:
                r[d] = r[d] &+ k
                guard let n = second(&ip, &remaining) else { failure = .budget; break run }
                if _fastPath(r[Int(n.dst)] != UInt64(bitPattern: n.imm)) { ip += Int(n.offset) }
            case .add64KJneX:
                r[d] = r[d] &+ k
                guard let n = second(&ip, &remaining) else { failure = .budget; break run }
                if _fastPath(r[Int(n.dst)] != r[Int(n.src)]) { ip += Int(n.offset) }
            case .sub64KJneK:
                r[d] = r[d] &- k
                guard let n = second(&ip, &remaining) else { failure = .budget; break run }
                if _fastPath(r[Int(n.dst)] != UInt64(bitPattern: n.imm)) { ip += Int(n.offset) }
            case .sub64KJneX:
                r[d] = r[d] &- k
                guard let n = second(&ip, &remaining) else { failure = .budget; break run }
                if _fastPath(r[Int(n.dst)] != r[Int(n.src)]) { ip += Int(n.offset) }
            case .load64Add64X:
                guard load(UInt64.self, i, stackLow, stackSpan, &failure) else { break run }
                guard let n = second(&ip, &remaining) else { failure = .budget; break run }
                r[Int(n.dst)] = r[Int(n.dst)] &+ r[Int(n.src)]
            case .mov64XAdd64K:  // the add's dst is the mov's (`fused`)
                let copy = r[sr]
                guard let n = second(&ip, &remaining) else { r[d] = copy; failure = .budget; break run }
                r[d] = copy &+ UInt64(bitPattern: n.imm)
            case .mov64XRsh64K:
                let copy = r[sr]
                guard let n = second(&ip, &remaining) else { r[d] = copy; failure = .budget; break run }
                r[d] = copy &>> UInt64(bitPattern: n.imm)
            case .mul64KAdd64X:  // the add's dst is the mul's (`fused`); its src may be too
                let product = r[d] &* k
                guard let n = second(&ip, &remaining) else { r[d] = product; failure = .budget; break run }
                r[d] = product &+ (n.src == n.dst ? product : r[Int(n.src)])
            case .jumpOverAdd64K:  // a counter's step, the common case: apart from the 32-bit add, one AND
                guard let (n, runs) = skippable(i, &ip, &remaining) else { failure = .budget; break run }
                r[Int(n.dst)] &+= UInt64(bitPattern: n.imm) & runs
            case .jumpOverAdd32K:
                guard let (n, runs) = skippable(i, &ip, &remaining) else { failure = .budget; break run }
                let old = r[Int(n.dst)]
                r[Int(n.dst)] = UInt64(w(old &+ UInt64(bitPattern: n.imm))) & runs | old & ~runs
            case .jumpOverMovK:
                guard let (n, runs) = skippable(i, &ip, &remaining) else { failure = .budget; break run }
                r[Int(n.dst)] = UInt64(bitPattern: n.imm) & resultBits(n) & runs | r[Int(n.dst)] & ~runs
            case .jumpOverMovX:
                guard let (n, runs) = skippable(i, &ip, &remaining) else { failure = .budget; break run }
                r[Int(n.dst)] = r[Int(n.src)] & resultBits(n) & runs | r[Int(n.dst)] & ~runs
            // Calls
            case .localCall: // local call (InternalOpcode)
                guard depth < maxDepth else { failure = .stackOverflow; break run }
                frames[depth] = SavedFrame(returnPC: ip - code, r6: r[6], r7: r[7], r8: r[8], r9: r[9])
                depth += 1
                stackLow &-= frameSize
                stackSpan &+= frameSize
                r[10] = r[10] &- frameSize
                s.pointee.stackLow = stackLow
                s.pointee.callDepth = depth
                ip += Int(i.offset)
            case .call, .callx:
                let id = i.opcode == BPF.callOp ? k : r[d]
                guard id < UInt64(HelperTable.capacity), let helper = helpers[Int(id)] else {
                    failure = .unknownHelper(id); break run
                }
                r[0] = helper(r[1], r[2], r[3], r[4], r[5], stateRaw)
                if s.pointee.attention != 0 {
                    let attention = s.pointee.attention
                    s.pointee.attention = 0
                    if attention == RunState.Attention.fault {
                        failure = .helperFault(environment.pendingFault ?? "helper failed")
                        environment.pendingFault = nil
                        break run
                    }
                    // Tail call: start the target in this (entry) frame, r1 unchanged.
                    guard let target = environment.pendingTailCall else { continue }
                    environment.pendingTailCall = nil
                    do {
                        let compiled = try compiledTarget(target)
                        tailCalled = compiled
                        code = compiled.code.baseAddress.unsafelyUnwrapped
                    } catch let error as VMError {
                        failure = .rejectedTailCall(error); break run
                    }
                    ip = code
                }
            case .exit:
                if depth == 0 { break run }
                depth -= 1
                let f = frames[depth]
                r[6] = f.r6; r[7] = f.r7; r[8] = f.r8; r[9] = f.r9
                stackLow &+= frameSize
                stackSpan &-= frameSize
                r[10] = r[10] &+ frameSize
                s.pointee.stackLow = stackLow
                s.pointee.callDepth = depth
                ip = code + f.returnPC
            case .invalid:
                // The validator admits no other opcode; reaching one is a decoder bug, not a trap.
                failure = .helperFault("internal error: undecodable opcode 0x\(Disassembler.hex(i.opcode))")
                break run
            }
        }
        executed = UInt64(budget &- remaining)
        guard let failure else { return r[0] }
        if case .budget = failure { executed -= 1 }
        throw error(failure, at: ip - code - 1, in: (tailCalled ?? entry).program)
    }

    @inline(never)
    static func grantedAllows(_ s: UnsafeMutablePointer<RunState>, _ a: UInt64, _ size: UInt64, _ write: Bool) -> Bool {
        s.pointee.grantedRegionAllows(a, size, write: write)
    }

    // Signed division per RFC 9669: x / 0 = 0, x % 0 = x, INT_MIN / -1 = INT_MIN, INT_MIN % -1 = 0.
    @inline(__always) static func sdiv64(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let x = Int64(bitPattern: a), y = Int64(bitPattern: b)
        if y == 0 { return 0 }
        if y == -1 { return UInt64(bitPattern: 0 &- x) }
        return UInt64(bitPattern: x / y)
    }
    @inline(__always) static func smod64(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let x = Int64(bitPattern: a), y = Int64(bitPattern: b)
        if y == 0 { return a }
        if y == -1 { return 0 }
        return UInt64(bitPattern: x % y)
    }
    @inline(__always) static func sdiv32(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let x = Int32(truncatingIfNeeded: a), y = Int32(truncatingIfNeeded: b)
        if y == 0 { return 0 }
        if y == -1 { return UInt64(UInt32(bitPattern: 0 &- x)) }
        return UInt64(UInt32(bitPattern: x / y))
    }
    @inline(__always) static func smod32(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let x = Int32(truncatingIfNeeded: a), y = Int32(truncatingIfNeeded: b)
        if y == 0 { return UInt64(UInt32(bitPattern: x)) }
        if y == -1 { return 0 }
        return UInt64(UInt32(bitPattern: x % y))
    }

    /// 64-bit atomic `op` at `p` with register `src` (and r0 for cmpxchg).
    static func atomic64(_ p: UnsafeMutableRawPointer, _ op: Int64, _ src: UnsafeMutablePointer<UInt64>,
                         _ r: UnsafeMutablePointer<UInt64>) {
        let cell = p.assumingMemoryBound(to: Atomic<UInt64>.self)
        let v = src.pointee
        let old: UInt64
        switch Int32(truncatingIfNeeded: op) & ~BPF.atomicFetch {
        case 0x00: old = cell.pointee.wrappingAdd(v, ordering: .sequentiallyConsistent).oldValue
        case 0x40: old = cell.pointee.bitwiseOr(v, ordering: .sequentiallyConsistent).oldValue
        case 0x50: old = cell.pointee.bitwiseAnd(v, ordering: .sequentiallyConsistent).oldValue
        case 0xa0: old = cell.pointee.bitwiseXor(v, ordering: .sequentiallyConsistent).oldValue
        case 0xe0: old = cell.pointee.exchange(v, ordering: .sequentiallyConsistent)
        default:
            r[0] = cell.pointee.compareExchange(expected: r[0], desired: v, ordering: .sequentiallyConsistent).original
            return
        }
        if op & Int64(BPF.atomicFetch) != 0 { src.pointee = old }
    }

    /// 32-bit atomic `op`; fetched values are zero-extended.
    static func atomic32(_ p: UnsafeMutableRawPointer, _ op: Int64, _ src: UnsafeMutablePointer<UInt64>,
                         _ r: UnsafeMutablePointer<UInt64>) {
        let cell = p.assumingMemoryBound(to: Atomic<UInt32>.self)
        let v = UInt32(truncatingIfNeeded: src.pointee)
        let old: UInt32
        switch Int32(truncatingIfNeeded: op) & ~BPF.atomicFetch {
        case 0x00: old = cell.pointee.wrappingAdd(v, ordering: .sequentiallyConsistent).oldValue
        case 0x40: old = cell.pointee.bitwiseOr(v, ordering: .sequentiallyConsistent).oldValue
        case 0x50: old = cell.pointee.bitwiseAnd(v, ordering: .sequentiallyConsistent).oldValue
        case 0xa0: old = cell.pointee.bitwiseXor(v, ordering: .sequentiallyConsistent).oldValue
        case 0xe0: old = cell.pointee.exchange(v, ordering: .sequentiallyConsistent)
        default:
            let expected = UInt32(truncatingIfNeeded: r[0])
            r[0] = UInt64(cell.pointee.compareExchange(expected: expected, desired: v, ordering: .sequentiallyConsistent).original)
            return
        }
        if op & Int64(BPF.atomicFetch) != 0 { src.pointee = UInt64(old) }
    }

    /// The error a failed run ends with, naming the instruction.
    func error(_ failure: Failure, at index: Int, in program: Program) -> VMError {
        let text = Disassembler.text(of: program, at: index)
        func make(_ kind: VMError.Kind, _ reason: String) -> VMError {
            VMError(kind, reason, index: index, instruction: text)
        }
        let s = state.pointee
        switch failure {
        case let .memory(address, size, write):
            let where_ = write && s.allows(address, size, write: false) ? "is read-only" : Self.describe(address, s)
            return make(.memoryViolation, "\(write ? "write" : "read") of \(size) bytes at 0x\(String(address, radix: 16)) \(where_)")
        case let .misalignedAtomic(address):
            return make(.memoryViolation, "misaligned atomic access at 0x\(String(address, radix: 16))")
        case .budget:
            return make(.budgetExceeded, "instruction budget of \(options.maxInstructions ?? 0) exceeded")
        case .stackOverflow:
            return make(.stackOverflow, "stack overflow: more than \(options.maxCallDepth) nested call frames")
        case let .unknownHelper(id):
            return make(.unknownHelper, "unknown helper \(id)")
        case let .helperFault(reason):
            return make(.helperFault, reason)
        case let .rejectedTailCall(error):
            return make(.rejected, error.description)
        }
    }

    static func describe(_ address: UInt64, _ s: RunState) -> String {
        let frame = UInt64(BPF.stackFrameSize)
        if address &- (s.stackLow &- frame) < (s.stackHigh &- s.stackLow) &+ 2 &* frame {
            return "is outside the stack frame"
        }
        if s.inputHigh > s.inputLow && address &- s.inputLow < (s.inputHigh &- s.inputLow) &+ frame {
            return "is outside the input (\(s.inputHigh - s.inputLow) bytes)"
        }
        return "is outside the memory the program may access"
    }
}

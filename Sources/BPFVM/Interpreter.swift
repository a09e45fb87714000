import Synchronization

/// The interpreter loop: a switch over pre-decoded 16-byte instructions, registers in a raw
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

        run: while true {
            let i = ip.pointee
            ip += 1
            remaining &-= 1
            if Mode.checked && remaining < 0 { failure = .budget; break }
            let d = Int(i.dst), sr = Int(i.src)
            let k = UInt64(bitPattern: i.imm)
            // Literal case values keep this one dense jump table (named constants would not).
            switch i.opcode {
            // ALU64
            case 0x07: r[d] = r[d] &+ k
            case 0x0f: r[d] = r[d] &+ r[sr]
            case 0x17: r[d] = r[d] &- k
            case 0x1f: r[d] = r[d] &- r[sr]
            case 0x27: r[d] = r[d] &* k
            case 0x2f: r[d] = r[d] &* r[sr]
            case 0x37: r[d] = k == 0 ? 0 : r[d] / k
            case 0x3f: let v = r[sr]; r[d] = v == 0 ? 0 : r[d] / v
            case 0x47: r[d] |= k
            case 0x4f: r[d] |= r[sr]
            case 0x57: r[d] &= k
            case 0x5f: r[d] &= r[sr]
            case 0x67: r[d] = r[d] &<< k
            case 0x6f: r[d] = r[d] &<< r[sr]
            case 0x77: r[d] = r[d] &>> k
            case 0x7f: r[d] = r[d] &>> r[sr]
            case 0x87: r[d] = 0 &- r[d]
            case 0x97: if k != 0 { r[d] = r[d] % k }
            case 0x9f: let v = r[sr]; if v != 0 { r[d] = r[d] % v }
            case 0xa7: r[d] ^= k
            case 0xaf: r[d] ^= r[sr]
            case 0xb7: r[d] = k
            case 0xbf: r[d] = r[sr]
            case 0xc7: r[d] = UInt64(bitPattern: Int64(bitPattern: r[d]) &>> k)
            case 0xcf: r[d] = UInt64(bitPattern: Int64(bitPattern: r[d]) &>> r[sr])
            case 0xd7, 0xdc: // bswap; and be (0xdc, an ALU32 opcode), the same on this little-endian host
                switch i.imm {
                case 16: r[d] = UInt64(UInt16(truncatingIfNeeded: r[d]).byteSwapped)
                case 32: r[d] = UInt64(w(r[d]).byteSwapped)
                default: r[d] = r[d].byteSwapped
                }
            // sdiv, smod, movsx: opcodes of their own (see InternalOpcode)
            case 0xe7: r[d] = Self.sdiv64(r[d], k)
            case 0xef: r[d] = Self.sdiv64(r[d], r[sr])
            case 0xf7: r[d] = Self.smod64(r[d], k)
            case 0xff: r[d] = Self.smod64(r[d], r[sr])
            case 0x10: // movsx64 (InternalOpcode)
                let v = r[sr]
                switch i.offset {
                case 8: r[d] = UInt64(bitPattern: Int64(Int8(truncatingIfNeeded: v)))
                case 16: r[d] = UInt64(bitPattern: Int64(Int16(truncatingIfNeeded: v)))
                default: r[d] = UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: v)))
                }
            // ALU32: operate on the low 32 bits, zero-extend the result.
            case 0x04: r[d] = UInt64(w(r[d]) &+ w(k))
            case 0x0c: r[d] = UInt64(w(r[d]) &+ w(r[sr]))
            case 0x14: r[d] = UInt64(w(r[d]) &- w(k))
            case 0x1c: r[d] = UInt64(w(r[d]) &- w(r[sr]))
            case 0x24: r[d] = UInt64(w(r[d]) &* w(k))
            case 0x2c: r[d] = UInt64(w(r[d]) &* w(r[sr]))
            case 0x34: let v = w(k); r[d] = v == 0 ? 0 : UInt64(w(r[d]) / v)
            case 0x3c: let v = w(r[sr]); r[d] = v == 0 ? 0 : UInt64(w(r[d]) / v)
            case 0x44: r[d] = UInt64(w(r[d]) | w(k))
            case 0x4c: r[d] = UInt64(w(r[d]) | w(r[sr]))
            case 0x54: r[d] = UInt64(w(r[d]) & w(k))
            case 0x5c: r[d] = UInt64(w(r[d]) & w(r[sr]))
            case 0x64: r[d] = UInt64(w(r[d]) &<< w(k))
            case 0x6c: r[d] = UInt64(w(r[d]) &<< w(r[sr]))
            case 0x74: r[d] = UInt64(w(r[d]) &>> w(k))
            case 0x7c: r[d] = UInt64(w(r[d]) &>> w(r[sr]))
            case 0x84: r[d] = UInt64(0 &- w(r[d]))
            case 0x94: let v = w(k); r[d] = UInt64(v == 0 ? w(r[d]) : w(r[d]) % v)
            case 0x9c: let v = w(r[sr]); r[d] = UInt64(v == 0 ? w(r[d]) : w(r[d]) % v)
            case 0xa4: r[d] = UInt64(w(r[d]) ^ w(k))
            case 0xac: r[d] = UInt64(w(r[d]) ^ w(r[sr]))
            case 0xb4: r[d] = UInt64(w(k))
            case 0xbc: r[d] = UInt64(w(r[sr]))
            case 0xc4: r[d] = UInt64(UInt32(bitPattern: Int32(bitPattern: w(r[d])) &>> w(k)))
            case 0xcc: r[d] = UInt64(UInt32(bitPattern: Int32(bitPattern: w(r[d])) &>> w(r[sr])))
            case 0xd4: // le: the host is little-endian, so only truncate
                switch i.imm {
                case 16: r[d] = r[d] & 0xffff
                case 32: r[d] = r[d] & 0xffff_ffff
                default: break
                }
            // sdiv32, smod32, movsx32 (InternalOpcode)
            case 0xe4: r[d] = Self.sdiv32(r[d], k)
            case 0xec: r[d] = Self.sdiv32(r[d], r[sr])
            case 0xf4: r[d] = Self.smod32(r[d], k)
            case 0xfc: r[d] = Self.smod32(r[d], r[sr])
            case 0x08: // movsx32 (InternalOpcode)
                let v = r[sr]
                let x = i.offset == 8 ? Int32(Int8(truncatingIfNeeded: v)) : Int32(Int16(truncatingIfNeeded: v))
                r[d] = UInt64(UInt32(bitPattern: x))
            // 64-bit immediate (value, map handle or global address resolved by the decoder)
            case 0x18: // lddw
                r[d] = k
                ip += 1
            // Loads
            case 0x61:
                let a = r[sr] &+ UInt64(bitPattern: Int64(i.offset))
                guard allowed(a, 4, false, stackLow, stackSpan) else { failure = .memory(address: a, size: 4, write: false); break run }
                r[d] = UInt64(ptr(a).loadUnaligned(as: UInt32.self))
            case 0x69:
                let a = r[sr] &+ UInt64(bitPattern: Int64(i.offset))
                guard allowed(a, 2, false, stackLow, stackSpan) else { failure = .memory(address: a, size: 2, write: false); break run }
                r[d] = UInt64(ptr(a).loadUnaligned(as: UInt16.self))
            case 0x71:
                let a = r[sr] &+ UInt64(bitPattern: Int64(i.offset))
                guard allowed(a, 1, false, stackLow, stackSpan) else { failure = .memory(address: a, size: 1, write: false); break run }
                r[d] = UInt64(ptr(a).load(as: UInt8.self))
            case 0x79:
                let a = r[sr] &+ UInt64(bitPattern: Int64(i.offset))
                guard allowed(a, 8, false, stackLow, stackSpan) else { failure = .memory(address: a, size: 8, write: false); break run }
                r[d] = ptr(a).loadUnaligned(as: UInt64.self)
            case 0x81:
                let a = r[sr] &+ UInt64(bitPattern: Int64(i.offset))
                guard allowed(a, 4, false, stackLow, stackSpan) else { failure = .memory(address: a, size: 4, write: false); break run }
                r[d] = UInt64(bitPattern: Int64(ptr(a).loadUnaligned(as: Int32.self)))
            case 0x89:
                let a = r[sr] &+ UInt64(bitPattern: Int64(i.offset))
                guard allowed(a, 2, false, stackLow, stackSpan) else { failure = .memory(address: a, size: 2, write: false); break run }
                r[d] = UInt64(bitPattern: Int64(ptr(a).loadUnaligned(as: Int16.self)))
            case 0x91:
                let a = r[sr] &+ UInt64(bitPattern: Int64(i.offset))
                guard allowed(a, 1, false, stackLow, stackSpan) else { failure = .memory(address: a, size: 1, write: false); break run }
                r[d] = UInt64(bitPattern: Int64(ptr(a).load(as: Int8.self)))
            // Stores
            case 0x62, 0x63:
                let a = r[d] &+ UInt64(bitPattern: Int64(i.offset))
                guard allowed(a, 4, true, stackLow, stackSpan) else { failure = .memory(address: a, size: 4, write: true); break run }
                ptr(a).storeBytes(of: w(i.opcode == 0x62 ? k : r[sr]), as: UInt32.self)
            case 0x6a, 0x6b:
                let a = r[d] &+ UInt64(bitPattern: Int64(i.offset))
                guard allowed(a, 2, true, stackLow, stackSpan) else { failure = .memory(address: a, size: 2, write: true); break run }
                ptr(a).storeBytes(of: UInt16(truncatingIfNeeded: i.opcode == 0x6a ? k : r[sr]), as: UInt16.self)
            case 0x72, 0x73:
                let a = r[d] &+ UInt64(bitPattern: Int64(i.offset))
                guard allowed(a, 1, true, stackLow, stackSpan) else { failure = .memory(address: a, size: 1, write: true); break run }
                ptr(a).storeBytes(of: UInt8(truncatingIfNeeded: i.opcode == 0x72 ? k : r[sr]), as: UInt8.self)
            case 0x7a, 0x7b:
                let a = r[d] &+ UInt64(bitPattern: Int64(i.offset))
                guard allowed(a, 8, true, stackLow, stackSpan) else { failure = .memory(address: a, size: 8, write: true); break run }
                ptr(a).storeBytes(of: i.opcode == 0x7a ? k : r[sr], as: UInt64.self)
            // Atomics (aligned, as Linux requires)
            case 0xc3, 0xdb:
                let size: UInt64 = i.opcode == BPF.atomic64 ? 8 : 4
                let a = r[d] &+ UInt64(bitPattern: Int64(i.offset))
                guard allowed(a, size, true, stackLow, stackSpan) else { failure = .memory(address: a, size: size, write: true); break run }
                guard a & (size - 1) == 0 else { failure = .misalignedAtomic(address: a); break run }
                if size == 8 {
                    Self.atomic64(ptr(a), i.imm, r + sr, r)
                } else {
                    Self.atomic32(ptr(a), i.imm, r + sr, r)
                }
            // Jumps: offsets are relative to the next instruction.
            case 0x05: ip += Int(i.offset)
            case 0x15: if r[d] == k { ip += Int(i.offset) }
            case 0x1d: if r[d] == r[sr] { ip += Int(i.offset) }
            case 0x25: if r[d] > k { ip += Int(i.offset) }
            case 0x2d: if r[d] > r[sr] { ip += Int(i.offset) }
            case 0x35: if r[d] >= k { ip += Int(i.offset) }
            case 0x3d: if r[d] >= r[sr] { ip += Int(i.offset) }
            case 0x45: if r[d] & k != 0 { ip += Int(i.offset) }
            case 0x4d: if r[d] & r[sr] != 0 { ip += Int(i.offset) }
            case 0x55: if r[d] != k { ip += Int(i.offset) }
            case 0x5d: if r[d] != r[sr] { ip += Int(i.offset) }
            case 0x65: if Int64(bitPattern: r[d]) > i.imm { ip += Int(i.offset) }
            case 0x6d: if Int64(bitPattern: r[d]) > Int64(bitPattern: r[sr]) { ip += Int(i.offset) }
            case 0x75: if Int64(bitPattern: r[d]) >= i.imm { ip += Int(i.offset) }
            case 0x7d: if Int64(bitPattern: r[d]) >= Int64(bitPattern: r[sr]) { ip += Int(i.offset) }
            case 0xa5: if r[d] < k { ip += Int(i.offset) }
            case 0xad: if r[d] < r[sr] { ip += Int(i.offset) }
            case 0xb5: if r[d] <= k { ip += Int(i.offset) }
            case 0xbd: if r[d] <= r[sr] { ip += Int(i.offset) }
            case 0xc5: if Int64(bitPattern: r[d]) < i.imm { ip += Int(i.offset) }
            case 0xcd: if Int64(bitPattern: r[d]) < Int64(bitPattern: r[sr]) { ip += Int(i.offset) }
            case 0xd5: if Int64(bitPattern: r[d]) <= i.imm { ip += Int(i.offset) }
            case 0xdd: if Int64(bitPattern: r[d]) <= Int64(bitPattern: r[sr]) { ip += Int(i.offset) }
            // JMP32: compare the low 32 bits.
            case 0x16: if w(r[d]) == w(k) { ip += Int(i.offset) }
            case 0x1e: if w(r[d]) == w(r[sr]) { ip += Int(i.offset) }
            case 0x26: if w(r[d]) > w(k) { ip += Int(i.offset) }
            case 0x2e: if w(r[d]) > w(r[sr]) { ip += Int(i.offset) }
            case 0x36: if w(r[d]) >= w(k) { ip += Int(i.offset) }
            case 0x3e: if w(r[d]) >= w(r[sr]) { ip += Int(i.offset) }
            case 0x46: if w(r[d]) & w(k) != 0 { ip += Int(i.offset) }
            case 0x4e: if w(r[d]) & w(r[sr]) != 0 { ip += Int(i.offset) }
            case 0x56: if w(r[d]) != w(k) { ip += Int(i.offset) }
            case 0x5e: if w(r[d]) != w(r[sr]) { ip += Int(i.offset) }
            case 0x66: if Int32(truncatingIfNeeded: r[d]) > Int32(truncatingIfNeeded: k) { ip += Int(i.offset) }
            case 0x6e: if Int32(truncatingIfNeeded: r[d]) > Int32(truncatingIfNeeded: r[sr]) { ip += Int(i.offset) }
            case 0x76: if Int32(truncatingIfNeeded: r[d]) >= Int32(truncatingIfNeeded: k) { ip += Int(i.offset) }
            case 0x7e: if Int32(truncatingIfNeeded: r[d]) >= Int32(truncatingIfNeeded: r[sr]) { ip += Int(i.offset) }
            case 0xa6: if w(r[d]) < w(k) { ip += Int(i.offset) }
            case 0xae: if w(r[d]) < w(r[sr]) { ip += Int(i.offset) }
            case 0xb6: if w(r[d]) <= w(k) { ip += Int(i.offset) }
            case 0xbe: if w(r[d]) <= w(r[sr]) { ip += Int(i.offset) }
            case 0xc6: if Int32(truncatingIfNeeded: r[d]) < Int32(truncatingIfNeeded: k) { ip += Int(i.offset) }
            case 0xce: if Int32(truncatingIfNeeded: r[d]) < Int32(truncatingIfNeeded: r[sr]) { ip += Int(i.offset) }
            case 0xd6: if Int32(truncatingIfNeeded: r[d]) <= Int32(truncatingIfNeeded: k) { ip += Int(i.offset) }
            case 0xde: if Int32(truncatingIfNeeded: r[d]) <= Int32(truncatingIfNeeded: r[sr]) { ip += Int(i.offset) }
            // Calls
            case 0xf5: // local call (InternalOpcode)
                guard depth < maxDepth else { failure = .stackOverflow; break run }
                frames[depth] = SavedFrame(returnPC: ip - code, r6: r[6], r7: r[7], r8: r[8], r9: r[9])
                depth += 1
                stackLow &-= frameSize
                stackSpan &+= frameSize
                r[10] = r[10] &- frameSize
                s.pointee.stackLow = stackLow
                s.pointee.callDepth = depth
                ip += Int(i.offset)
            case 0x85, 0x8d:
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
            case 0x95:
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
            default:
                // The validator admits no other opcode; reaching one is a decoder bug, not a trap.
                failure = .helperFault("internal error: undecodable opcode 0x\(Disassembler.hex(i.opcode))")
                break run
            }
        }
        executedInstructions = UInt64(budget &- remaining)
        guard let failure else { return r[0] }
        if case .budget = failure { executedInstructions -= 1 }
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

/// What generated code reads and writes through r12 during a run. It starts with a `RunState`, so
/// the same pointer is the helpers' context argument; the rest is the JIT's own bookkeeping.
/// Plain 8-byte fields, addressed by `MemoryLayout` offsets baked into the code as displacements.
/// Every `VirtualMachine` holds one (its `state` is the first field), which its JIT programs run on.
@usableFromInline
struct JITContext {
    @usableFromInline var state: RunState
    /// eBPF r0-r10 as stored when a helper asks for attention: a tail-call target's code starts
    /// from them (entry code sets its registers from the run state).
    var registers: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    /// `HelperTable.entries` and `runStateAccessCheck`, so the code holds no absolute address.
    var helpers: UnsafeMutableRawPointer
    var accessCheck = unsafeBitCast(runStateAccessCheck, to: UnsafeRawPointer.self)
    /// Resolved `lddw` map values of relocatable (AOT) code, by relocation index: set by each run.
    @usableFromInline var relocations: UnsafeRawPointer?
    /// The region the inline bounds check tries first: `offset = address - fastLow` is allowed for
    /// any access of up to 8 bytes when `offset <= fastLimit`.
    @usableFromInline var fastLow: UInt64 = 0
    @usableFromInline var fastLimit: UInt64 = 0
    /// Instruction budget left (only counted when the VM has a budget).
    @usableFromInline var remaining: Int64 = 0
    /// rsp of the entry frame, restored to leave from any call depth.
    var savedStackPointer: UInt64 = 0
    @usableFromInline var exitReason: UInt64 = 0
    var exitIndex: UInt64 = 0
    var faultAddress: UInt64 = 0
    var faultSize: UInt64 = 0
    var faultWrite: UInt64 = 0

    init(state: RunState, helpers: UnsafeMutableRawPointer) {
        self.state = state
        self.helpers = helpers
    }

    /// Why generated code returned.
    @usableFromInline enum Exit {
        @usableFromInline static let normal: UInt64 = 0
        static let memory: UInt64 = 1
        static let misalignedAtomic: UInt64 = 2
        static let stackOverflow: UInt64 = 3
        static let unknownHelper: UInt64 = 4
        static let attention: UInt64 = 5
        static let budget: UInt64 = 6
    }

    /// Displacement of a field from r12.
    static func offset(_ field: PartialKeyPath<JITContext>) -> Int32 {
        guard let o = MemoryLayout<JITContext>.offset(of: field) else {
            preconditionFailure("JITContext field without storage")
        }
        return Int32(o)
    }

    static func register(_ n: Int) -> Int32 { offset(\.registers) + Int32(n * 8) }
}

/// `bpf_tail_call` (12): replaces the running program with entry `index` of a prog-array map and
/// does not return; on failure the caller continues with a negative r0. At most 33 tail calls per
/// run (Linux's limit), and only from the entry frame (not inside a local call).
enum TailCallHelper {
    static let maxTailCalls = 33

    static func register(in table: HelperTable) {
        table.register(HelperID.tailCall, name: "tail_call") { _, m, index, _, _, raw in
            let ctx = HelperContext(raw)
            return ctx.withMap(m, helper: "tail_call") { fd, info, maps in
                let state = ctx.state
                guard info.kind == .progArray, state.pointee.callDepth == 0 else { return Errno.result(Errno.EINVAL) }
                guard state.pointee.tailCallCount < TailCallHelper.maxTailCalls else { return Errno.result(Errno.E2BIG) }
                guard index < UInt64(info.maxEntries),
                      let program = maps.program(forTailCallIn: fd, index: UInt32(index)) else { return Errno.result(Errno.ENOENT) }
                state.pointee.tailCallCount += 1
                ctx.environment.pendingTailCall = program
                state.pointee.attention = RunState.Attention.tailCall
                return 0
            }
        }
    }
}

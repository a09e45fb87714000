/// `bpf_override_return(ctx, rc)` (58) and `bpf_set_retval(rc)` (187), as bpftime offers them to
/// `uprobe_override` programs: both record `rc` in the run state (the last call wins) and return 0.
/// The VM only records the value; the caller decides whether the hook honours it (the agent
/// does for programs on `uprobe_override` events: the hooked function then does not run).
enum ReturnOverrideHelpers {
    static func register(in table: HelperTable) {
        table.register(HelperID.overrideReturn, name: "override_return") { _, rc, _, _, _, raw in
            HelperContext(raw).overrideReturn(with: rc)
        }
        table.register(HelperID.setRetval, name: "set_retval") { rc, _, _, _, _, raw in
            HelperContext(raw).overrideReturn(with: rc)
        }
    }
}

extension HelperContext {
    @inline(__always)
    func overrideReturn(with rc: UInt64) -> UInt64 {
        state.pointee.returnOverride = rc
        state.pointee.returnOverridden = 1
        return 0
    }
}

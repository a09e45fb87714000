import BPFRuntime
import BPFSegment
import BPFSnapshots
import Glibc

/// What to do about a library's error, in this command line's words: the libraries say what
/// went wrong, the tool adds which of its commands or options fixes it.
enum Hints {
    /// `error` with a `hint:` line when there is one to give, else `error` itself (so that
    /// argument-parsing errors and exit codes pass through).
    static func attached(to error: Error) -> Error {
        guard let hint = hint(for: error) else { return error }
        return ToolError("\(error)\nhint: \(hint)")
    }

    static func hint(for error: Error) -> String? {
        switch error {
        case SegmentError.missing:
            "create one with `bpftimetool import FILE`, or pick another with --shm / BPFTIME_GLOBAL_SHM_NAME"
        case SegmentError.alreadyExists:
            "use it, or delete it first with `bpftimetool remove`"
        case SegmentError.notOwned:
            "pick another name with --shm, or pass --allow-other-owner if you trust its owner"
        case SegmentError.notOurFormat:
            "if it is bpftime's native segment, pick another name with --shm"
        case SegmentError.corrupt, SegmentError.mapOperation(_, _, EFAULT):
            "`bpftimetool check` lists every problem it finds"
        case SnapshotError.noHistory:
            "`bpftimetool snap save` starts one"
        case SnapshotError.danglingAttachments:
            "`snap restore --with-deps` restores what they are attached to as well; `--allow-dangling` keeps them attached to nothing"
        case RuntimeError.aotMissing(let fd):
            "compile them first with `bpftimetool aot compile \(fd)`"
        case RuntimeError.aotStale(let fd, _):
            "recompile it with `bpftimetool aot compile \(fd)`"
        case RuntimeError.aotWithBudget:
            "--max-insns works with type INTERPRET or JIT"
        case RuntimeError.aotUntrusted(let fd):
            "after importing, run `bpftimetool aot compile \(fd)`"
        default:
            nil
        }
    }
}

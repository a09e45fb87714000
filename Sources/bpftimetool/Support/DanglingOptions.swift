import ArgumentParser
import BPFLogging
import BPFSegment
import BPFState
import Logging

/// `--allow-dangling` on the commands that put handlers from a file or a snapshot into the
/// segment (`import`, `load`, `snap restore`): references to fds that hold nothing are kept
/// (programs' attach_fds) or dropped (prog_array entries), each with a warning, instead of
/// refusing the whole change.
struct DanglingOptions: ParsableArguments {
    @Flag(help: "Keep programs' attach_fds that name fds holding nothing, as bpftime does, and drop prog_array entries naming no program (a warning for each).")
    var allowDangling = false

    /// Runs `body`; a refusal that `--allow-dangling` would have avoided says so, naming the
    /// flag and the `verb`.
    static func applying<T>(_ verb: String, allowDangling: Bool, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SegmentError where !allowDangling {
            switch error {
            case .danglingReference(_, "attach_fds", _):
                throw ToolError("\(error) (bpftime keeps such attachments: \(verb) with --allow-dangling to do the same)")
            case .notAProgram:
                throw ToolError("\(error) (\(verb) with --allow-dangling to drop such entries)")
            default:
                throw error
            }
        }
    }

    /// One warning per attachment kept dangling and per prog_array entry dropped.
    static func warn(_ change: AppliedChange, log: Logger) {
        for (program, targets) in change.danglingAttachments.sorted(by: { $0.key < $1.key }) {
            for target in targets { log.warning("program fd \(program) is attached to fd \(target), which holds no handler: kept, as bpftime does") }
        }
        warn(dropped: change.droppedProgramSlots, log: log)
    }

    static func warn(dropped: [StaleProgramSlot], log: Logger) {
        for slot in dropped {
            log.warning("prog_array fd \(slot.map) slot \(slot.index) names fd \(slot.program), which holds no program: entry dropped")
        }
    }
}

import ArgumentParser
import BPFLogging
import Glibc

@main
struct BPFTimeTool: ParsableCommand {
    /// Recorded with every snapshot the tool makes.
    static let version = "0.2.0"

    static let configuration = CommandConfiguration(
        commandName: "bpftimetool",
        abstract: "Inspect and operate the shared-memory state of a userspace eBPF runtime.",
        discussion: """
        The segment is named by --shm, else BPFTIME_GLOBAL_SHM_NAME, else "\(SegmentOptions.defaultName)". \
        New segments take BPFTIME_SHM_MEMORY_MB (default 20) and BPFTIME_MAX_FD_COUNT handler slots. \
        Logs go to stderr at the level of SPDLOG_LEVEL (default info). Every export and every change is \
        recorded in the snapshot history (--db, else BPFTIME_SNAP_DB, else ~/.bpftime/snapshots.db) unless \
        --no-record or BPFTIME_SNAP_RECORD=0; a change that stands but could not be recorded exits with status 3.
        """,
        version: version,
        subcommands: [
            ExportCommand.self, ImportCommand.self, LoadCommand.self, UnloadCommand.self, RemoveCommand.self,
            ListCommand.self, StatusCommand.self, CheckCommand.self,
            MapCommand.self, ProgCommand.self, RunCommand.self, AOTCommand.self, SnapCommand.self,
        ]
    )

    static func main() {
        BPFLog.bootstrap()
        // SIGINT and SIGTERM end any command even when the parent started it with them blocked
        // (a test runner does): a push waiting on a server lock otherwise ran on until the lock
        // came. An ignored SIGTERM is reset too; an ignored SIGINT stays ignored, as a shell
        // starts background jobs so that ^C does not reach them. Every change is
        // all-or-nothing (the segment's journal, the history's transactions); `snap watch` and
        // `snap serve` install their own handling.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        sigprocmask(SIG_UNBLOCK, &signals, nil)
        signal(SIGTERM, SIG_DFL)
        do {
            var command = try parseAsRoot(LeadingOptions.reordered(Array(CommandLine.arguments.dropFirst())))
            try command.run()
        } catch {
            exit(withError: Hints.attached(to: error))
        }
    }
}

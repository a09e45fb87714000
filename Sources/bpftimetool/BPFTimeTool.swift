import ArgumentParser
import BPFLogging

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
        do {
            var command = try parseAsRoot(LeadingOptions.reordered(Array(CommandLine.arguments.dropFirst())))
            try command.run()
        } catch {
            exit(withError: Hints.attached(to: error))
        }
    }
}

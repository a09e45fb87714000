import ArgumentParser
import BPFModel
import BPFReports
import BPFSnapshots
import BPFState
import Foundation

struct SnapDiff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show what changed between two states: snapshots (id, tag, latest, ID~N) or `live` for the segment now.",
        discussion: "Exit status 0 when they are equal, 1 when they differ (like diff), 2 or more on errors.")

    @Argument(help: "The older state: a snapshot or live.") var from: String
    @Argument(help: "The newer state: a snapshot or live (default).") var to = "live"
    @OptionGroup var output: JSONOptions
    @Flag(help: "Print one line per differing fd with its counts.") var stat = false
    @Flag(name: .customLong("name-only"), help: "Print the differing fds only.") var nameOnly = false
    @OptionGroup var segment: SegmentOptions
    @OptionGroup var store: StoreOptions

    func run() throws {
        let differ: Bool
        do {
            differ = try compare()
        } catch {
            // Like diff(1): trouble is 2, so that 1 always means "different".
            FileHandle.standardError.write(Data("Error: \(Hints.attached(to: error))\n".utf8))
            throw ExitCode(2)
        }
        if differ { throw ExitCode(1) }
    }

    /// Prints the differences; true when there are some.
    private func compare() throws -> Bool {
        let detail: MapContentsDiff.Detail = stat || nameOnly ? .counts : .entries
        let diff = try ProgressLine.around("snap diff") {
            try store.withHistory(access: .read) {
                try segment.state().diff(StateReference(from), StateReference(to), store: $0, mapDetail: detail)
            }
        }
        let renderer = DiffRenderer(colored: !output.enabled && DiffRenderer.terminalWantsColor())
        if output.enabled {
            output.print(renderer.json(diff))
        } else if nameOnly {
            print(renderer.names(diff), terminator: "")
        } else if stat {
            print(renderer.stat(diff))
        } else {
            print(renderer.text(diff), terminator: "")
            if diff.isEmpty { print("no differences") }
        }
        return !diff.isEmpty
    }
}

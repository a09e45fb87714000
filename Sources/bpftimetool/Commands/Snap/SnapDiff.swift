import ArgumentParser
import BPFModel
import BPFReports
import BPFSnapshots
import Foundation

struct SnapDiff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show what changed between two states: snapshot ids, tags, or `live` for the segment now.",
        discussion: "Exit status 0 when they are equal, 1 when they differ (like diff), 2 or more on errors.")

    @Argument(help: "The older state: id, tag or live.") var from: String
    @Argument(help: "The newer state: id, tag or live.") var to: String
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Print counts only.") var stat = false
    @OptionGroup var segment: SegmentOptions
    @OptionGroup var store: StoreOptions

    func run() throws {
        let differ: Bool
        do {
            differ = try compare()
        } catch {
            // Like diff(1): trouble is 2, so that 1 always means "different".
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            throw ExitCode(2)
        }
        if differ { throw ExitCode(1) }
    }

    /// Prints the differences; true when there are some.
    private func compare() throws -> Bool {
        let diff = try diffStates(from, to, segment: segment, store: store.open(), mapDetail: stat ? .counts : .entries)
        let renderer = DiffRenderer(colored: !json && DiffRenderer.terminalWantsColor())
        if json {
            print(renderer.json(diff).rendered())
        } else if stat {
            print(renderer.stat(diff))
        } else {
            print(renderer.text(diff), terminator: "")
            if diff.isEmpty { print("no differences") }
        }
        return !diff.isEmpty
    }
}

/// Two states compared: snapshot ids or tags, or `live` for a consistent read of the segment now.
func diffStates(_ from: String, _ to: String, segment: SegmentOptions, store db: SnapshotStore,
                mapDetail detail: MapContentsDiff.Detail = .entries) throws -> SnapshotDiff {
    switch (from, to) {
    case ("live", "live"):
        let live = try consistentState(of: segment.open()).records
        return SnapshotDiffer.diff(live, live, mapDetail: detail)
    case (_, "live"):
        return try db.diff(db.resolve(from), live: consistentState(of: segment.open()).records, mapDetail: detail)
    case ("live", _):
        return try SnapshotDiffer.diff(consistentState(of: segment.open()).records, db.records(of: db.resolve(to)), mapDetail: detail)
    default:
        return try db.diff(db.resolve(from), db.resolve(to), mapDetail: detail)
    }
}

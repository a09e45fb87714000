import BPFJSON
import ArgumentParser
import BPFReports
import BPFSnapshots
import Foundation

/// `--keep-*`, `--older-than` and `--include-tagged`, shared by `prune` and `watch`.
struct RetentionOptions: ParsableArguments {
    @Option(name: .customLong("keep-last"), help: "Keep the newest N snapshots of each segment.") var keepLast: Int?
    @Option(name: .customLong("keep-hourly"), help: "Keep the newest snapshot of each of the last N hours that have one.") var keepHourly: Int?
    @Option(name: .customLong("keep-daily"), help: "Keep the newest snapshot of each of the last N days (UTC) that have one.") var keepDaily: Int?
    @Option(name: .customLong("older-than"), help: "Only remove snapshots older than this (30m, 12h, 7d).") var olderThan: DurationArgument?
    @Flag(name: .customLong("include-tagged"), help: "Tagged snapshots may go too (kept by default).") var includeTagged = false

    var policy: RetentionPolicy {
        RetentionPolicy(keepLast: keepLast, keepHourly: keepHourly, keepDaily: keepDaily, olderThan: olderThan?.seconds,
                        includeTagged: includeTagged)
    }

    func validate() throws {
        for (name, value) in [("--keep-last", keepLast), ("--keep-hourly", keepHourly), ("--keep-daily", keepDaily)] {
            if let value, value < 0 { throw ValidationError("\(name) takes a count of zero or more") }
        }
    }

    /// Removes what the policy does not keep (of `segment`, or all); returns the decisions.
    @discardableResult
    func apply(_ store: any SnapshotHistory, segment: String?, dryRun: Bool) throws -> [(snapshot: SnapshotInfo, reasons: [String])] {
        let decisions = policy.decide(try store.log(segment: segment, since: nil, limit: nil))
        if !dryRun { try store.remove(decisions.filter { $0.reasons.isEmpty }.map(\.snapshot.id)) }
        return decisions
    }
}

struct SnapPrune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove the snapshots a retention policy does not keep (restic's forget); `snap gc` then frees their space.",
        discussion: "Each segment's snapshots are considered apart; a snapshot is kept if any --keep rule keeps it.")

    @OptionGroup var retention: RetentionOptions
    @Option(help: "Only this segment's snapshots.") var segment: String?
    @Flag(name: .customLong("dry-run"), help: "Print what would be kept and removed, and change nothing.") var dryRun = false
    @OptionGroup var output: JSONOptions
    @OptionGroup var store: StoreOptions

    func validate() throws {
        if retention.policy.isEmpty {
            throw ValidationError("no policy: give --keep-last, --keep-hourly, --keep-daily or --older-than")
        }
    }

    func run() throws {
        let decisions = try ProgressLine.around("snap prune") { try store.withHistory { try retention.apply($0, segment: segment, dryRun: dryRun) } }
        if output.enabled {
            output.print(JSONText.object([
                ("dry_run", .bool(dryRun)),
                ("kept", .array(decisions.filter { !$0.reasons.isEmpty }.map { .object([("id", .int($0.snapshot.id)), ("reasons", .array($0.reasons.map(JSONText.string)))]) })),
                ("removed", .array(decisions.filter { $0.reasons.isEmpty }.map { .int($0.snapshot.id) })),
            ]))
            return
        }
        var table = Table(header: ["ID", "TIME", "SEGMENT", "DECISION", "REASONS"])
        for (s, reasons) in decisions {
            table.add([String(s.id), TimeText.format(s.createdAt), s.segmentName, reasons.isEmpty ? (dryRun ? "would remove" : "removed") : "keep",
                       reasons.joined(separator: ", ")])
        }
        print(table.rendered())
        let removed = decisions.filter { $0.reasons.isEmpty }.count
        print("\(dryRun ? "would remove" : "removed") \(removed) of \(decisions.count) snapshots" + (removed > 0 && !dryRun ? " (`snap gc` frees their space)" : ""))
    }
}

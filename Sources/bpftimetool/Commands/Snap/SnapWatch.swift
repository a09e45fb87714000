import ArgumentParser
import BPFLogging
import BPFModel
import BPFSegment
import BPFState
import BPFSnapshots
import Dispatch
import Foundation

struct SnapWatch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Record the segment every interval while it changes, until SIGINT or SIGTERM.",
        discussion: """
        Saves a snapshot whenever the segment differs from its latest one (by content), logging one line \
        per snapshot; with --keep-* or --older-than, prunes after each save. A signal during a save \
        lets it finish: a snapshot is saved whole or not at all.
        """)

    @Option(help: "How often to look (5s, 1m, ...).") var interval = DurationArgument(seconds: 5)
    @Option(name: .shortAndLong, help: "The message of each snapshot.") var message: String?
    @OptionGroup var retention: RetentionOptions
    @OptionGroup var segment: SegmentOptions
    @OptionGroup var store: StoreOptions

    func validate() throws {
        if interval.seconds < 0.01 { throw ValidationError("--interval must be at least 10ms") }
    }

    func run() throws {
        let log = BPFLog.logger("snap")
        let stop = StopSignals([SIGINT, SIGTERM])
        let state = try segment.state()
        let name = try state.open().name
        try store.withHistory { db in
            log.info("watching segment \(name) every \(interval.seconds) s")
            repeat {
                let (id, saved) = try state.saveIfChanged(to: db, message: message)
                guard saved else { continue }
                let c = try db.changes(of: id, mapDetail: .counts, fds: nil)
                let entries = c.changed.reduce(0) { $0 + $1.mapChanges.addedCount + $1.mapChanges.removedCount + $1.mapChanges.changedCount }
                log.info("snapshot \(id) of \(name): \(c.added.count) added, \(c.removed.count) removed, \(c.changed.count) changed handlers, \(entries) map entries changed")
                if !retention.policy.isEmpty {
                    let removed = try retention.apply(db, segment: name, dryRun: false).filter { $0.reasons.isEmpty }.map(\.snapshot.id)
                    if !removed.isEmpty { log.info("pruned snapshots \(removed.map(String.init).joined(separator: ", "))") }
                }
            } while !stop.wait(seconds: interval.seconds)
        }
        log.info("stopped watching segment \(name)")
    }
}

/// Turns the given signals into a flag waited on with a timeout, instead of ending the process
/// wherever it is.
final class StopSignals {
    private let semaphore = DispatchSemaphore(value: 0)
    private let sources: [DispatchSourceSignal]

    init(_ signals: [Int32]) {
        let semaphore = semaphore
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { semaphore.signal() }
            source.resume()
            return source
        }
    }

    /// Waits up to `seconds`; true if a signal came (now or since the last wait).
    func wait(seconds: Double) -> Bool {
        semaphore.wait(timeout: .now() + seconds) == .success
    }
}

import ArgumentParser
import BPFLogging
import BPFSnapshots
import BPFState

struct SnapSave: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "save", abstract: "Record the segment as a new snapshot; prints its id.")
    @Option(name: .shortAndLong, help: "A message describing the snapshot.") var message: String?
    @Option(name: .customLong("tag"), help: "A tag naming the snapshot (repeatable).") var tags: [String] = []
    @Flag(name: .customLong("if-changed"), help: "Save nothing if the segment equals its latest snapshot, by content.") var ifChanged = false
    @OptionGroup var segment: SegmentOptions
    @OptionGroup var store: StoreOptions

    func run() throws {
        try store.withHistory { db in
            guard ifChanged else {
                print(try ProgressLine.around("snap save") { try segment.state().save(to: db, message: message, tags: tags).id })
                return
            }
            let (id, saved) = try ProgressLine.around("snap save") { try segment.state().saveIfChanged(to: db, message: message, tags: tags) }
            if saved { print(id) } else { BPFLog.logger("snap").info("unchanged since snapshot \(id): nothing saved") }
        }
    }
}

import ArgumentParser
import BPFFleet
import BPFLogging
import BPFState

/// `--no-record` on every command that changes the segment or exports it: by default the
/// state it leaves (or writes) is recorded in the history of `--db`.
struct RecordOptions: ParsableArguments {
    /// The exit status of a command whose change stands but could not be recorded.
    static let recordingFailedStatus: Int32 = 3

    @Flag(name: .customLong("no-record"), help: "Do not record the resulting state in the history (also BPFTIME_SNAP_RECORD=0).")
    var noRecord = false

    /// Where and as whom to record, nil when recording is off.
    /// A bad `--db` is an error before anything changes.
    func recording(into store: StoreOptions) throws -> Recording? {
        if noRecord { return nil }
        let location = try store.location
        guard case .postgres = location else {
            return Recording.unlessDisabled(historyPath: try store.path, toolVersion: BPFTimeTool.version)
        }
        return Recording.unlessDisabled(historyPath: location.description, toolVersion: BPFTimeTool.version) { body in
            try HistoryConnection.withHistory(location) { try body($0) }
        }
    }

    /// Logs what became of the recording; a failed one is an error line and exit status 3
    /// (`kept` says what stands).
    static func report(_ result: RecordResult?, kept: String = "the change stands") throws {
        let log = BPFLog.logger("record")
        guard let result, let line = describe(result, kept: kept) else { return }
        if case .failed = result {
            log.error("\(line)")
            throw ExitCode(recordingFailedStatus)
        }
        log.info("\(line)")
    }

    /// What became of the recording, for people; nil when nothing was to be recorded.
    static func describe(_ result: RecordResult?, kept: String = "the change stands") -> String? {
        switch result {
        case nil: nil
        case .recorded(let id): "recorded as snapshot \(id)"
        case .unchanged(let id): "unchanged since snapshot \(id): nothing recorded"
        case .failed(let path, let reason): "\(kept), but it was not recorded in the history \(path): \(reason)"
        }
    }
}

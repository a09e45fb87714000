import BPFModel
import BPFSnapshots

/// The history as pages and JSON, independent of HTTP: each route of the server is one method
/// here taking its parameters and answering a `Reply` (or throwing a `BrowseError`). Read-only,
/// except `restore` when the server was given a `Restorer`. Every page reads through the
/// `SQLConnection` both engines implement, so SQLite and PostgreSQL histories show the same.
public struct HistoryBrowser: Sendable {
    /// `snap diff`'s comparison of two references (ids, tags or `live`), as the command line makes it.
    public typealias Differ = @Sendable (_ history: any SnapshotHistory, _ old: String, _ new: String) throws -> SnapshotDiff
    /// Restores snapshot `id` into the segment (`dryRun`: only plans); answers the plan's lines.
    public typealias Restorer = @Sendable (_ history: any SnapshotHistory, _ id: Int64, _ dryRun: Bool) throws -> [String]

    /// Largest page of map entries one request may ask for.
    public static let maximumPageSize = 1_000
    /// Map entry changes shown on a diff page (the JSON API gives them all).
    static let diffEntriesShown = 500

    let history: SharedHistory
    let differ: Differ
    let restorer: Restorer?
    let sessions = SessionGuard()

    public init(history: SharedHistory, differ: @escaping Differ, restorer: Restorer?) {
        self.history = history
        self.differ = differ
        self.restorer = restorer
    }

    /// Runs a page's reads on one consistent view of the history.
    func read<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        try history.use { try $0.withReadConnection(body) }
    }

    /// A snapshot reference as the CLI takes it (id or tag); unknown ones are 404.
    func snapshot(_ reference: String) throws -> Int64 {
        try read { try $0.resolve(reference) }
    }

    /// The differ's comparison of `old` and `new`.
    func diff(_ old: String, _ new: String) throws -> SnapshotDiff {
        try history.use { try differ($0, old, new) }
    }
}

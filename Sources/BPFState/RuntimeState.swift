import BPFModel
import BPFSegment
import BPFSnapshots
import Foundation

/// The use cases on a runtime's state, for the command line, the agent or any embedder:
/// import and load handlers, read the segment consistently, save it to the history, diff,
/// and restore. Each use case returns the consistent state it read or applied, the place
/// for a caller that records every change.
public struct RuntimeState: Sendable {
    /// The segment: its name, and the size and slots it gets when a use case creates it.
    public let configuration: SegmentConfiguration

    public init(configuration: SegmentConfiguration) {
        self.configuration = configuration
    }

    /// The segment's name.
    public var segmentName: String { configuration.name }

    /// Opens the segment; a missing one is an error.
    public func open() throws -> Segment { try Segment.open(name: configuration.name) }

    /// Runs `body` on the segment, creating it first if it does not exist; a segment created
    /// here is removed again if `body` fails, so a failed change leaves nothing behind.
    public func withSegment<T>(creating: Bool, _ body: (Segment) throws -> T) throws -> T {
        if !creating { return try body(open()) }
        if let existing = try? open() { return try body(existing) }
        let created = try Segment.create(configuration)
        do {
            return try body(created)
        } catch {
            try? Segment.remove(name: configuration.name)
            throw error
        }
    }

    // MARK: Reading and saving

    /// One point-in-time read of the segment under its lock: the handlers (map contents
    /// included when asked) and the generation they belong to.
    public func read(includeContents: Bool = true) throws -> ConsistentState {
        WorkProgress.current?.begin("reading the segment", total: 0)
        return try open().transaction { try ConsistentState($0, includeContents: includeContents) }
    }

    /// Records a consistent read of the segment as a new snapshot.
    public func save(to store: any SnapshotHistory, message: String? = nil, tags: [String] = []) throws -> SavedSnapshot {
        let state = try read()
        let id = try store.save(state.records, meta: state.meta(message: message, tags: tags))
        return SavedSnapshot(id: id, state: state)
    }

    /// Records a consistent read as a new snapshot unless it equals, by content, the segment's
    /// latest snapshot (map values programs changed without a generation bump count): the id
    /// saved, or the latest one's with `saved == false`.
    public func saveIfChanged(to store: any SnapshotHistory, message: String? = nil, tags: [String] = []) throws -> (id: Int64, saved: Bool) {
        let state = try read()
        let outcome = try store.saveIfChanged(state.records, meta: state.meta(message: message, tags: tags))
        return (outcome.id, outcome.created)
    }
}

/// Handlers read from a segment in one critical section, with the generation they belong to.
public struct ConsistentState: Equatable, Sendable {
    public var segmentName: String
    public var generation: UInt64
    /// The segment's `Segment.instance` (nil when not read from a segment).
    public var segmentInstance: UInt64?
    /// Sorted by fd.
    public var records: [HandlerRecord]

    public init(segmentName: String, generation: UInt64, segmentInstance: UInt64? = nil, records: [HandlerRecord]) {
        self.segmentName = segmentName
        self.generation = generation
        self.segmentInstance = segmentInstance
        self.records = records
    }

    init(_ transaction: SegmentTransaction, includeContents: Bool) throws {
        self.init(segmentName: transaction.name, generation: transaction.generation, segmentInstance: transaction.instance,
                  records: try transaction.records(includeContents: includeContents))
    }

    /// How a snapshot of this state is described.
    func meta(message: String?, tags: [String] = []) -> SnapshotMeta {
        SnapshotMeta(segmentName: segmentName, host: Self.hostName, generation: generation,
                     segmentInstance: segmentInstance, message: message, tags: tags)
    }

    /// The host recorded with snapshots: `BPFTIME_HOST` (containers sharing one host name, the
    /// tests' simulated fleet), else the system's host name.
    public static var hostName: String {
        ProcessInfo.processInfo.environment["BPFTIME_HOST"].flatMap { $0.isEmpty ? nil : $0 } ?? ProcessInfo.processInfo.hostName
    }
}

/// A snapshot just recorded, and the state it holds.
public struct SavedSnapshot: Equatable, Sendable {
    public var id: Int64
    public var state: ConsistentState
}

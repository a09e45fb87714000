import BPFModel
import BPFSnapshots

/// One side of a diff: the segment now, or a snapshot (id or tag).
public enum StateReference: Equatable, Sendable {
    case live
    case stored(String)

    /// `live`, else a snapshot id or tag.
    public init(_ text: String) { self = text == "live" ? .live : .stored(text) }
}

extension RuntimeState {
    /// What changed from `old` to `new`: stored sides are compared in the history without
    /// loading what they share, the live side is read consistently first.
    public func diff(_ old: StateReference, _ new: StateReference, store: any SnapshotHistory,
                     mapDetail: MapContentsDiff.Detail = .entries) throws -> SnapshotDiff {
        switch (old, new) {
        case (.live, .live):
            let live = try read().records
            return SnapshotDiffer.diff(live, live, mapDetail: mapDetail)
        case (.stored(let a), .live):
            return try store.diff(store.resolve(a), live: read().records, mapDetail: mapDetail)
        case (.live, .stored(let b)):
            return try SnapshotDiffer.diff(read().records, store.records(of: store.resolve(b)), mapDetail: mapDetail)
        case (.stored(let a), .stored(let b)):
            return try store.diff(store.resolve(a), store.resolve(b), mapDetail: mapDetail, fds: nil)
        }
    }
}

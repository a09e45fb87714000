import BPFJSON
import BPFModel
import BPFSnapshots
import Foundation

/// A snapshot's metadata for people and as JSON.
public enum SnapshotFormat {
    /// `snapshot 12  2026-11-30 16:40:01 UTC  segment demo  generation 42  tags: base`
    public static func headline(_ s: SnapshotInfo, local: Bool) -> String {
        "snapshot \(s.id)  \(TimeText.format(s.createdAt, local: local))  segment \(s.segmentName)  generation \(s.generation)"
            + (s.tags.isEmpty ? "" : "  tags: \(s.tags.joined(separator: ", "))")
    }

    public static func json(_ s: SnapshotInfo) -> JSONText {
        .object([("id", .int(s.id)), ("time", .string(TimeText.iso(s.createdAt))),
                 ("segment", .string(s.segmentName)), ("host", .string(s.host)), ("generation", .uint(s.generation)),
                 ("message", s.message.map(JSONText.string) ?? .null), ("tags", .array(s.tags.map(JSONText.string))),
                 ("parent", s.parent.map { .int($0) } ?? .null), ("handlers", .int(s.handlerCount)),
                 ("undo_of", s.undoOf.map { r in
                     .object([("snapshot", .int(r.snapshot)), ("fds", .array(r.fds.map { .int($0) })),
                              ("time", .string(TimeText.iso(r.restoredAt)))])
                 } ?? .null),
                 ("provenance", s.provenance.map(json) ?? .null)])
    }

    /// Who and what made a snapshot.
    public static func json(_ p: Provenance) -> JSONText {
        .object([("command", .string(p.command)), ("user", .string(p.user)), ("uid", .uint(UInt64(p.uid))),
                 ("pid", .int(Int64(p.pid))), ("tool_version", .string(p.toolVersion)),
                 ("restored_snapshot", p.restoredSnapshot.map { .int($0) } ?? .null),
                 ("undo_snapshot", p.undoSnapshot.map { .int($0) } ?? .null)])
    }

    /// `snap show --json`: the snapshot's metadata and its handlers.
    public static func json(_ s: SnapshotInfo, handlers: HandlerListing) -> JSONText {
        .object([("snapshot", json(s)), ("handlers", handlers.json)])
    }

    /// The message (else the recorded command line), and for an undo snapshot what its restore did.
    public static func message(_ s: SnapshotInfo) -> String {
        guard let r = s.undoOf else { return s.message ?? s.provenance?.command ?? "" }
        return (s.message.map { $0 + "; " } ?? "") + "restored " + restore(r)
    }

    public static func restore(_ r: RestoreSummary) -> String {
        "snapshot \(r.snapshot) at \(TimeText.format(r.restoredAt, local: false)), fds \(r.fds.map(String.init).joined(separator: ","))"
    }
}

extension Handler {
    /// A map's entry count when its contents were read, else `nil`.
    public var mapEntryCount: Int? {
        if case .map(let m) = self { return m.contents?.count }
        return nil
    }
}

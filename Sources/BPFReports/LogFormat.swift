import BPFJSON
import BPFModel
import BPFSnapshots

/// `snap log --json` (and the server's `/api/log`): snapshots with what each changed, or the
/// changes of one map key.
public enum LogFormat {
    /// Each snapshot with its changes against the one before it.
    public static func snapshots(_ shown: [(snapshot: SnapshotInfo, change: SnapshotDiff)]) -> JSONText {
        let renderer = DiffRenderer(colored: false)
        return .array(shown.map { .object([("snapshot", SnapshotFormat.json($0.snapshot)), ("changes", renderer.json($0.change))]) })
    }

    /// Each change of one key, with the time of the snapshot that made it.
    public static func keyChanges(_ changes: [(change: KeyChange, snapshot: SnapshotInfo)]) -> JSONText {
        .array(changes.map { change, info in
            .object([("snapshot", .int(change.snapshot)), ("previous", change.previous.map { .int($0) } ?? .null),
                     ("time", .string(TimeText.iso(info.createdAt))), ("kind", .string(change.kind.rawValue)),
                     ("old", change.old.map { .string(Hex.encode($0)) } ?? .null),
                     ("new", change.new.map { .string(Hex.encode($0)) } ?? .null)])
        })
    }
}

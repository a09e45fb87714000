import BPFModel
import GRDB

extension SnapshotStore {
    /// Diffs two stored snapshots without loading what they share: handlers with the same
    /// stored state are skipped, and maps are compared chunk by chunk, reading only the chunks
    /// that differ. Changed map handlers come with `contents == nil` in `old`/`new` (their
    /// entry changes are in `mapChanges`); added and removed handlers are complete.
    public func diff(_ a: Int64, _ b: Int64, mapDetail: MapContentsDiff.Detail = .entries) throws -> SnapshotDiff {
        try guarded {
            try pool.read { db in
                let old = Dictionary(uniqueKeysWithValues: try Self.storedHandlers(db, snapshot: a).map { ($0.fd, $0) })
                let new = Dictionary(uniqueKeysWithValues: try Self.storedHandlers(db, snapshot: b).map { ($0.fd, $0) })
                var diff = SnapshotDiff()
                for fd in Set(old.keys).union(new.keys).sorted() {
                    switch (old[fd], new[fd]) {
                    case (let o?, nil): diff.removed.append(try o.record(db, withContents: true))
                    case (nil, let n?): diff.added.append(try n.record(db, withContents: true))
                    case (let o?, let n?) where o.state != n.state:
                        var mapChanges = MapContentsDiff()
                        if let x = o.mapContent, let y = n.mapContent, x != y {
                            mapChanges = try Self.diffContents(x, y, detail: mapDetail, db)
                        }
                        diff.changed.append(SnapshotDiffer.change(
                            try o.record(db, withContents: false), try n.record(db, withContents: false),
                            mapChanges: mapChanges))
                    default: break
                    }
                }
                return diff
            }
        }
    }

    /// Chunks in both lists hold the same entries on both sides, and no key of theirs appears
    /// elsewhere on either side (keys are unique), so only the other chunks need comparing.
    private static func diffContents(_ a: Int64, _ b: Int64, detail: MapContentsDiff.Detail, _ db: Database) throws -> MapContentsDiff {
        let (layoutA, layoutB) = (try MapContentRows.layout(a, db), try MapContentRows.layout(b, db))
        let (chunksA, chunksB) = (try MapContentRows.chunks(a, db), try MapContentRows.chunks(b, db))
        let shared = Set(chunksA).intersection(chunksB)
        let old = try MapContentRows.entries(chunksA.filter { !shared.contains($0) }, layoutA, db)
        let new = try MapContentRows.entries(chunksB.filter { !shared.contains($0) }, layoutB, db)
        return MapContentsDiff.between(SortedEntries(sorted: old), SortedEntries(sorted: new), detail: detail)
    }
}

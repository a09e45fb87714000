import BPFModel
import Foundation
import GRDB

extension SnapshotStore {
    /// Diffs two stored snapshots without loading what they share: handlers with the same
    /// stored state are skipped, and maps are compared chunk by chunk, reading only the chunks
    /// that differ. Changed map handlers come with `contents == nil` in `old`/`new` (their
    /// entry changes are in `mapChanges`); added and removed handlers are complete.
    public func diff(_ a: Int64, _ b: Int64, mapDetail: MapContentsDiff.Detail = .entries) throws -> SnapshotDiff {
        try guarded {
            try pool.read { db in
                let new = Dictionary(uniqueKeysWithValues: try Self.storedHandlers(db, snapshot: b).map { ($0.fd, $0) })
                return try Self.diff(db, from: a, to: Set(new.keys), loadNew: { fd in try new[fd]?.record(db, withContents: true) }) { old, fd in
                    guard let n = new[fd], n.state != old.state else { return nil }
                    var mapChanges = MapContentsDiff()
                    if let x = old.mapContent, let y = n.mapContent, x != y {
                        mapChanges = try ChunkList.diff(.stored(x, db), .stored(y, db), detail: mapDetail)
                    }
                    return SnapshotDiffer.change(
                        try old.record(db, withContents: false), try n.record(db, withContents: false), mapChanges: mapChanges)
                }
            }
        }
    }

    /// Diffs a stored snapshot against a live handler table the same way: live handlers are
    /// hashed as a save would, and only stored chunks the live maps lack are read. Changed map
    /// handlers come with `contents == nil`, as in the diff of two snapshots.
    public func diff(_ a: Int64, live: [HandlerRecord], mapDetail: MapContentsDiff.Detail = .entries) throws -> SnapshotDiff {
        let new = try Self.byFD(live)
        let prepared = try prepare(live)
        return try guarded {
            try pool.read { db in
                try Self.diff(db, from: a, to: Set(new.keys), loadNew: { new[$0] }) { old, fd in
                    guard let record = new[fd], let state = prepared[fd], Self.differs(old, state) else { return nil }
                    var mapChanges = MapContentsDiff()
                    if let x = old.mapContent, let chunks = try state.chunks() {
                        mapChanges = try ChunkList.diff(.stored(x, db), .live(chunks), detail: mapDetail)
                    }
                    var stripped = record
                    if case .map(var m) = record.handler {
                        m.contents = nil
                        stripped.handler = .map(m)
                    }
                    return SnapshotDiffer.change(try old.record(db, withContents: false), stripped, mapChanges: mapChanges)
                }
            }
        }
    }

    /// The fds on both sides whose handlers differ, by the comparison `diff(_:live:)` makes,
    /// without loading what is only on one side: what a restore replaces.
    public func changedFDs(_ a: Int64, live: [HandlerRecord]) throws -> Set<Int> {
        let prepared = try prepare(live)
        return try guarded {
            try pool.read { db in
                Set(try Self.storedHandlers(db, snapshot: a).filter { old in prepared[old.fd].map { Self.differs(old, $0) } ?? false }.map(\.fd))
            }
        }
    }

    /// A stored handler and a live one differ when their states hash differently (maps by
    /// their sorted entries, not the order the segment lists them in).
    private static func differs(_ stored: StoredHandler, _ live: PreparedState) -> Bool { stored.hash != live.hash }

    private static func byFD(_ live: [HandlerRecord]) throws -> [Int: HandlerRecord] {
        var byFD: [Int: HandlerRecord] = [:]
        for record in live where byFD.updateValue(record, forKey: record.fd) != nil {
            throw SnapshotError.invalidRecord(fd: record.fd, reason: "two handlers at the same fd")
        }
        return byFD
    }

    /// Live handlers hashed as a save would, by fd.
    private func prepare(_ live: [HandlerRecord]) throws -> [Int: PreparedState] {
        _ = try Self.byFD(live)
        let states = try guarded { try PreparedState.prepare(live.sorted { $0.fd < $1.fd }, pool) }
        return Dictionary(uniqueKeysWithValues: states.map { ($0.fd, $0) })
    }

    /// Walks the fds of snapshot `a` and of the other side: removed, added, and whatever
    /// `change` makes of fds on both sides (`nil` when equal).
    private static func diff(_ db: Database, from a: Int64, to newFDs: Set<Int>, loadNew: (Int) throws -> HandlerRecord?,
                             change: (StoredHandler, Int) throws -> HandlerChange?) throws -> SnapshotDiff {
        let old = Dictionary(uniqueKeysWithValues: try storedHandlers(db, snapshot: a).map { ($0.fd, $0) })
        var diff = SnapshotDiff()
        for fd in Set(old.keys).union(newFDs).sorted() {
            if let o = old[fd] {
                if !newFDs.contains(fd) {
                    diff.removed.append(try o.record(db, withContents: true))
                } else if let c = try change(o, fd) {
                    diff.changed.append(c)
                }
            } else if let n = try loadNew(fd) {
                diff.added.append(n)
            }
        }
        return diff
    }
}

/// A map's contents as its chunks' hashes, with a way to read the entries of some of them.
/// Chunks on both sides hold the same entries, and no key of theirs appears elsewhere on either
/// side (keys are unique), so only the other chunks need comparing.
struct ChunkList {
    var hashes: [[UInt8]]
    /// The entries of the chunks at these positions, in order, keys as stored.
    var entries: ([Int]) throws -> MapContents

    static func diff(_ a: ChunkList, _ b: ChunkList, detail: MapContentsDiff.Detail) throws -> MapContentsDiff {
        let shared = Set(a.hashes).intersection(b.hashes)
        let old = try a.entries(a.hashes.indices.filter { !shared.contains(a.hashes[$0]) })
        let new = try b.entries(b.hashes.indices.filter { !shared.contains(b.hashes[$0]) })
        return MapContentsDiff.between(SortedEntries(sorted: old), SortedEntries(sorted: new), detail: detail)
    }

    static func stored(_ content: Int64, _ db: Database) throws -> ChunkList {
        let layout = try MapContentRows.layout(content, db)
        let rows = try Row.fetchAll(db, sql: """
            SELECT ch.id, ch.hash FROM map_content_chunks c JOIN chunks ch ON ch.id = c.chunk
            WHERE c.content = ? ORDER BY c.seq
            """, arguments: [content])
        let ids: [Int64] = rows.map { $0[0] }
        return ChunkList(hashes: rows.map { [UInt8]($0[1] as Data) }) { positions in
            try MapContentRows.entries(positions.map { ids[$0] }, layout, db)
        }
    }

    static func live(_ map: MapChunks) -> ChunkList {
        ChunkList(hashes: map.chunks.map(\.hash)) { positions in
            var contents = MapContents(keySize: map.storedKeySize, valueSize: map.valueSize, valuesPerEntry: map.valuesPerEntry)
            for chunk in positions.map({ map.chunks[$0] }) {
                for i in chunk.start ..< chunk.start + chunk.count {
                    let entry = i * map.entrySize
                    contents.append(key: map.entries[entry ..< entry + map.storedKeySize],
                                    value: map.entries[entry + map.storedKeySize ..< entry + map.entrySize])
                }
            }
            return contents
        }
    }
}

extension SnapshotStore {
    /// What restoring snapshot `id` onto the live table `live` changes, and the snapshot's
    /// handlers: the fds that differ are the ones `diff(_:live:)` reports (`changedFDs`), so
    /// that a restore replaces exactly what a diff shows (maps compared by content).
    public func restorePlan(_ id: Int64, live: [HandlerRecord], onlyFDs: Set<Int>?,
                            withDependencies: Bool) throws -> (target: [HandlerRecord], plan: RestorePlan) {
        let target = try records(of: id)
        let plan = try RestorePlanner.plan(target: target, current: live, changed: changedFDs(id, live: live),
                                           onlyFDs: onlyFDs, withDependencies: withDependencies)
        return (target, plan)
    }
}

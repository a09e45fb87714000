import BPFModel
import Foundation

/// Reading snapshots back, on any history: the SQLite store forwards its reads here, so one
/// reader of map contents (layers included) serves both engines.
extension SQLConnection {
    /// Snapshot `id`'s metadata.
    public func info(_ id: Int64) throws -> SnapshotInfo {
        guard let info = try snapshotInfos(id: id).first else { throw SnapshotError.unknownSnapshot(String(id)) }
        return info
    }

    /// Snapshots newest first: of one segment, taken at or after `since`, at most `limit`.
    public func log(segment: String? = nil, since: Date? = nil, limit: Int? = nil) throws -> [SnapshotInfo] {
        let all = try snapshotInfos(segment: segment).reversed().filter { s in since.map { s.createdAt >= $0 } ?? true }
        return limit.map { Array(all.prefix(max(0, $0))) } ?? all
    }

    /// The snapshot's full handler table, by fd, map contents included.
    public func records(of id: Int64) throws -> [HandlerRecord] {
        let handlers = try SnapshotStore.storedHandlers(self, snapshot: id)
        let progress = WorkProgress.current
        if let progress {
            let entries = try value("""
                SELECT sum(m.entry_count) FROM snapshot_handlers h JOIN handler_states st ON st.id = h.state
                JOIN map_contents m ON m.id = st.map_content WHERE h.snapshot = $1
                """, [.integer(id)])?.integer ?? 0
            progress.begin("reading snapshot \(id)", total: handlers.count + Int(entries))
        }
        var done = 0
        // Maps of the same contents share one stored copy: it is read once (a state of 2,500
        // maps of one contents read it 2,500 times, two queries each).
        var read: [Int64: MapContents] = [:]
        return try handlers.map { stored in
            let record = try stored.record(self, withContents: true) { content in
                if let known = read[content] { return known }
                let contents = try MapContentRows.load(content, self, fd: stored.fd)
                read[content] = contents
                return contents
            }
            done += record.progressUnits
            progress?.reach(done)
            return record
        }
    }

    /// The snapshot's handlers without map contents, with each map's stored entry count.
    public func handlerSummaries(of id: Int64) throws -> [(record: HandlerRecord, entries: Int?)] {
        try SnapshotStore.storedHandlers(self, snapshot: id).map { stored in
            (record: try stored.record(self, withContents: false), entries: try stored.mapContent.map { try MapContentRows.layout($0, self).count })
        }
    }

    /// Diffs two stored snapshots without loading what they share: handlers with the same
    /// stored state are skipped, and maps are compared chunk by chunk, reading only the chunks
    /// that differ. Changed map handlers come with `contents == nil` in `old`/`new` (their
    /// entry changes are in `mapChanges`); added and removed handlers are complete.
    /// `fds` limits the diff to those fds.
    public func diff(_ a: Int64, _ b: Int64, mapDetail: MapContentsDiff.Detail = .entries, fds: Set<Int>? = nil) throws -> SnapshotDiff {
        let new = Dictionary(uniqueKeysWithValues: try SnapshotStore.storedHandlers(self, snapshot: b).map { ($0.fd, $0) })
        return try SnapshotStore.diff(self, from: a, to: Set(new.keys), only: fds,
                                      loadNew: { fd in try new[fd]?.record(self, withContents: true) }) { old, fd in
            guard let n = new[fd], n.state != old.state else { return nil }
            var mapChanges = MapContentsDiff()
            if let x = old.mapContent, let y = n.mapContent, x != y {
                mapChanges = try LayeredDiff.between(x, y, self, detail: mapDetail)
                    ?? ChunkList.diff(.stored(x, self), .stored(y, self), detail: mapDetail)
            }
            return SnapshotDiffer.change(
                try old.record(self, withContents: false), try n.record(self, withContents: false), mapChanges: mapChanges)
        }
    }

    /// Diffs snapshot `a` against a live handler table: the snapshot read whole and compared
    /// (the SQLite store's own diff reads only the chunks the live maps lack).
    public func diff(_ a: Int64, live: [HandlerRecord], mapDetail: MapContentsDiff.Detail = .entries) throws -> SnapshotDiff {
        SnapshotDiffer.diff(try records(of: a), live, mapDetail: mapDetail)
    }

    /// The fds on both sides whose handlers differ by content hash, the live side hashed as a save would.
    public func changedFDs(_ a: Int64, live: [HandlerRecord]) throws -> Set<Int> {
        let prepared = Dictionary(try PreparedState.prepare(live).map { ($0.fd, $0) }, uniquingKeysWith: { first, _ in first })
        return Set(try SnapshotStore.storedHandlers(self, snapshot: a).filter { old in prepared[old.fd].map { $0.hash != old.hash } ?? false }.map(\.fd))
    }

    /// What snapshot `id` changed against its parent (the snapshot before it of its segment);
    /// with no parent every handler is added, without map contents.
    public func changes(of id: Int64, mapDetail: MapContentsDiff.Detail = .counts, fds: Set<Int>? = nil) throws -> SnapshotDiff {
        if let parent = try info(id).parent { return try diff(parent, id, mapDetail: mapDetail, fds: fds) }
        return SnapshotDiff(added: try SnapshotStore.storedHandlers(self, snapshot: id).filter { fds?.contains($0.fd) ?? true }
            .map { try $0.record(self, withContents: false) })
    }
}

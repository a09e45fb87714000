import BPFJSON
import BPFModel
import BPFReports
import BPFSnapshots

/// The JSON API: the same documents as the command line's `--json` outputs.
extension HistoryBrowser {
    /// `GET /api/snapshots`, as `snap list --json`.
    func apiSnapshots() throws -> Reply {
        .json(JSONText.array(try read { try $0.snapshotInfos() }.map(SnapshotFormat.json)).compact)
    }

    /// `GET /api/snapshots/{ref}`, as `snap show --json`.
    func apiSnapshot(_ reference: String) throws -> Reply {
        try read { db in
            let id = try db.resolve(reference)
            let listing = HandlerListing(summaries: try db.handlerSummaries(of: id))
            return .json(SnapshotFormat.json(try db.info(id), handlers: listing).compact)
        }
    }

    /// `GET /api/diff?a=REF&b=REF`, as `snap diff --json`.
    func apiDiff(_ p: Parameters) throws -> Reply {
        .json(DiffRenderer(colored: false).json(try diff(p.required("a"), p.required("b"))).compact)
    }

    /// `GET /api/log[?fd=N[&key=HEX]][&segment=S][&n=N]`, as `snap log --json` with the same options.
    func apiLog(_ p: Parameters) throws -> Reply {
        try read { try apiLog(p, $0) }
    }

    private func apiLog(_ p: Parameters, _ db: any SQLConnection) throws -> Reply {
        let segment = p.string("segment")
        let limit = p.string("n") == nil ? nil : try p.int("n", in: 0 ... Int(Int32.max))
        guard p.string("fd") != nil else {
            if p.string("key") != nil { throw BrowseError.badRequest("parameter 'key' needs 'fd'") }
            let shown: [(snapshot: SnapshotInfo, change: SnapshotDiff)] = try db.log(segment: segment, limit: limit).map {
                ($0, try db.changes(of: $0.id))
            }
            return .json(LogFormat.snapshots(shown).compact)
        }
        let fd = try p.int("fd", in: 0 ... Int(Int32.max))
        guard let keyText = p.string("key") else {
            return .json(LogFormat.snapshots(try db.handlerHistory(fd: fd, segment: segment, limit: limit)).compact)
        }
        guard let key = Hex.decode(keyText.hasPrefix("0x") ? String(keyText.dropFirst(2)) : keyText), !key.isEmpty else {
            throw BrowseError.badRequest("key \(keyText): not hex (two digits per byte)")
        }
        let changes = try db.keyHistory(fd: fd, key: key, segment: segment).prefix(limit ?? .max)
        return .json(LogFormat.keyChanges(try changes.map { (change: $0, snapshot: try db.info($0.snapshot)) }).compact)
    }
}

import BPFReports
import BPFSnapshots

/// The JSON API: the same documents as the command line's `--json` outputs.
extension HistoryBrowser {
    /// `GET /api/snapshots`, as `snap list --json`.
    func apiSnapshots() throws -> Reply {
        .json(JSONText.array(try store.list().map(SnapshotFormat.json)).rendered())
    }

    /// `GET /api/snapshots/{ref}`, as `snap show --json`.
    func apiSnapshot(_ reference: String) throws -> Reply {
        let id = try snapshot(reference)
        let listing = HandlerListing(summaries: try store.handlerSummaries(of: id))
        return .json(SnapshotFormat.json(try store.info(id), handlers: listing).rendered())
    }

    /// `GET /api/diff?a=REF&b=REF`, as `snap diff --json`.
    func apiDiff(_ p: Parameters) throws -> Reply {
        .json(DiffRenderer(colored: false).json(try differ(p.required("a"), p.required("b"))).rendered())
    }

    /// `GET /api/log?fd=N&key=HEX`, as `snap log --json`.
    func apiLog(_ p: Parameters) throws -> Reply {
        throw BrowseError.notImplemented("/api/log answers once `snap log` exists in this build")
    }
}

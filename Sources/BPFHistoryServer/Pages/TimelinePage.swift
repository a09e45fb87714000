import BPFReports
import BPFSnapshots

/// `/`: every segment's snapshots, newest first, a page of `rowsPerPage` at a time, with each
/// map's entry count over the page's snapshots; `?segment=S&before=ID` pages back through one
/// segment.
extension HistoryBrowser {
    static let rowsPerPage = 100
    /// Lines in one entry-count plot: more would be unreadable (and slow to draw).
    static let plottedMaps = 8

    func timeline(_ p: Parameters) throws -> Reply {
        try read { try timeline(p, $0) }
    }

    private func timeline(_ p: Parameters, _ db: any SQLConnection) throws -> Reply {
        let before = try p.int("before", in: 1 ... Int(Int64.max), default: Int(Int64.max))
        // One grouped query, then one page of each segment: a request costs its page, not the history.
        let segments = try db.segmentSummaries(segment: p.string("segment"))
        let total = segments.reduce(0) { $0 + $1.snapshots }

        var body = """
            <form class="inline" action="/diff" method="get">compare <input name="a" placeholder="old: id, tag or live" size="18">
            with <input name="b" placeholder="new: id, tag or live" size="18" value="live"> <button>diff</button></form>
            <p class="muted">\(total) snapshots of \(segments.count) segment\(segments.count == 1 ? "" : "s").</p>
            """
        if total == 0 { body += "<p>No snapshots yet: record one with <code>bpftimetool snap save</code>.</p>" }
        for segment in segments {
            let name = segment.segmentName
            body += "<h2 id=\"segment-\(HTML.escape(name))\">segment <code>\(HTML.escape(name))</code> <span class=\"muted\">on \(HTML.escape(segment.hosts.joined(separator: ", ")))</span></h2>"
            // One more than a page, to know whether there are older ones.
            let shown = Array(try db.snapshotInfos(segment: name, limit: Self.rowsPerPage + 1, before: Int64(before)).reversed())
            let page = shown.prefix(Self.rowsPerPage)
            if let newest = page.first, let oldest = page.last {
                body += try entryCountPlot(segment: name, ids: oldest.id ... newest.id, db)
            }
            body += "<table class=\"timeline\"><tr><th>snapshot</th><th>time</th><th>generation</th><th>handlers</th><th>tags</th><th>message</th><th></th></tr>"
            for s in page {
                // An undo snapshot (saved by a restore) says so, and what the restore did.
                let tags = s.tags.map { "<span class=\"tag\">\(HTML.escape($0))</span>" }.joined()
                    + (s.undoOf == nil ? "" : "<span class=\"tag restore\">before restore</span>")
                let change = s.parent.map { HTML.link("/diff?a=\($0)&b=\(s.id)", "changes") } ?? "<span class=\"muted\">first</span>"
                body += "<tr class=\"snap\" id=\"s\(s.id)\"><td>\(HTML.link("/snapshots/\(s.id)", "#\(s.id)"))</td>"
                    + "<td>\(TimeText.format(s.createdAt))</td><td>\(s.generation)</td><td>\(s.handlerCount)</td>"
                    + "<td>\(tags)</td><td>\(HTML.escape(SnapshotFormat.message(s)))</td><td>\(change)</td></tr>"
            }
            body += "</table>"
            if shown.count > Self.rowsPerPage {
                let older = shown[Self.rowsPerPage].id + 1
                body += "<p>" + HTML.link("/?segment=\(HTML.query(name))&before=\(older)", "older snapshots") + "</p>"
            }
        }
        return .html(HTML.page(title: "Snapshot history", body))
    }

    /// The entry count across the page's snapshots of the maps whose count changed most, one
    /// line per fd; a point is drawn where a count starts or ends a run of equal values, which
    /// keeps each line's shape.
    private func entryCountPlot(segment: String, ids: ClosedRange<Int64>, _ db: any SQLConnection) throws -> String {
        var byFD: [Int: SVGPlot.Series] = [:]
        for c in try db.mapEntryCounts(segment: segment, ids: ids) {
            byFD[c.fd, default: SVGPlot.Series(name: "fd \(c.fd) \(c.name ?? "")", color: "", points: [])]
                .points.append((c.snapshot, Double(c.entries), "\(c.entries) entries"))
        }
        guard !byFD.isEmpty else { return "" }
        let changes = byFD.mapValues { s in zip(s.points, s.points.dropFirst()).filter { $0.y != $1.y }.count }
        let plotted = byFD.keys.sorted { (changes[$0]!, $1) > (changes[$1]!, $0) }.prefix(Self.plottedMaps).sorted()
        let series = plotted.enumerated().map { i, fd in
            var s = byFD[fd]!
            s.color = SVGPlot.palette[i % SVGPlot.palette.count]
            s.points = SVGPlot.runEnds(s.points)
            return s
        }
        let legend = series.map { "<span><i class=\"swatch\" style=\"background:\($0.color)\"></i>\(HTML.escape($0.name))</span>" }.joined()
        let rest = byFD.count - series.count
        let note = rest == 0 ? "" : " <span class=\"muted\">(and \(rest) map\(rest == 1 ? "" : "s") whose count changed less)</span>"
        return "<p class=\"legend\">map entries over time: \(legend)\(note)</p>" + SVGPlot(series: series, height: 200).rendered()
    }
}

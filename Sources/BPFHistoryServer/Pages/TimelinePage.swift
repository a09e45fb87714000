import BPFReports
import BPFSnapshots

/// `/`: every segment's snapshots, newest first, with each map's entry count over time.
extension HistoryBrowser {
    func timeline() throws -> Reply {
        let all = try store.list()
        var segments: [String: [SnapshotInfo]] = [:]
        for s in all { segments[s.segmentName, default: []].append(s) }
        let order = segments.keys.sorted { segments[$0]!.last!.id > segments[$1]!.last!.id }

        var body = """
            <form class="inline" action="/diff" method="get">compare <input name="a" placeholder="old: id, tag or live" size="18">
            with <input name="b" placeholder="new: id, tag or live" size="18" value="live"> <button>diff</button></form>
            <p class="muted">\(all.count) snapshots of \(segments.count) segment\(segments.count == 1 ? "" : "s").</p>
            """
        if all.isEmpty { body += "<p>No snapshots yet: record one with <code>bpftimetool snap save</code>.</p>" }
        for name in order {
            let snapshots = segments[name]!
            let hosts = Set(snapshots.map(\.host)).sorted().joined(separator: ", ")
            body += "<h2 id=\"segment-\(HTML.escape(name))\">segment <code>\(HTML.escape(name))</code> <span class=\"muted\">on \(HTML.escape(hosts))</span></h2>"
            body += try entryCountPlot(segment: name)
            body += "<table class=\"timeline\"><tr><th>snapshot</th><th>time</th><th>generation</th><th>handlers</th><th>tags</th><th>message</th><th></th></tr>"
            for s in snapshots.reversed() {
                // An undo snapshot (saved by a restore) says so, and what the restore did.
                let tags = s.tags.map { "<span class=\"tag\">\(HTML.escape($0))</span>" }.joined()
                    + (s.undoOf == nil ? "" : "<span class=\"tag restore\">before restore</span>")
                let change = s.parent.map { HTML.link("/diff?a=\($0)&b=\(s.id)", "changes") } ?? "<span class=\"muted\">first</span>"
                body += "<tr class=\"snap\" id=\"s\(s.id)\"><td>\(HTML.link("/snapshots/\(s.id)", "#\(s.id)"))</td>"
                    + "<td>\(TimeText.format(s.createdAt))</td><td>\(s.generation)</td><td>\(s.handlerCount)</td>"
                    + "<td>\(tags)</td><td>\(HTML.escape(SnapshotFormat.message(s)))</td><td>\(change)</td></tr>"
            }
            body += "</table>"
        }
        return .html(HTML.page(title: "Snapshot history", body))
    }

    /// Each map's entry count across the segment's snapshots, one line per fd.
    private func entryCountPlot(segment: String) throws -> String {
        var byFD: [Int: SVGPlot.Series] = [:]
        for c in try store.mapEntryCounts(segment: segment) {
            let color = SVGPlot.palette[byFD.count % SVGPlot.palette.count]
            byFD[c.fd, default: SVGPlot.Series(name: "fd \(c.fd) \(c.name ?? "")", color: color, points: [])]
                .points.append((c.snapshot, Double(c.entries), "\(c.entries) entries"))
        }
        guard !byFD.isEmpty else { return "" }
        let series = byFD.keys.sorted().map { byFD[$0]! }
        let legend = series.map { "<span><i class=\"swatch\" style=\"background:\($0.color)\"></i>\(HTML.escape($0.name))</span>" }.joined()
        return "<p class=\"legend\">map entries over time: \(legend)</p>" + SVGPlot(series: series, height: 200).rendered()
    }
}

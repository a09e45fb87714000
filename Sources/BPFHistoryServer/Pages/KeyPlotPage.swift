import BPFModel
import BPFReports
import BPFSnapshots

/// `/plot?segment=S&fd=N&key=K`: one key's value in every snapshot of a segment, as a plot (values
/// of up to 8 bytes, per-CPU values summed) and as the list of snapshots where it changed.
extension HistoryBrowser {
    func keyPlotPage(_ p: Parameters) throws -> Reply {
        try read { try keyPlotPage(p, $0) }
    }

    private func keyPlotPage(_ p: Parameters, _ db: any SQLConnection) throws -> Reply {
        let segments = Set(try db.segmentSummaries().map(\.segmentName))
        let segment: String
        if let s = p.string("segment") {
            guard segments.contains(s) else { throw BrowseError.notFound("no snapshot of segment '\(s)'") }
            segment = s
        } else {
            guard segments.count == 1 else { throw BrowseError.badRequest("missing parameter 'segment' (the history holds \(segments.count))") }
            segment = segments.first!
        }
        let fd = try p.int("fd", in: 0 ... Int(Int32.max))
        let snapshots = try db.log(segment: segment).reversed()
        // The map's sizes come from its newest definition in the segment.
        var found: MapHandler?
        for s in snapshots.reversed() {
            if case .map(let m)? = try db.handler(of: s.id, fd: fd)?.handler { found = m; break }
        }
        guard let map = found else { throw BrowseError.notFound("no snapshot of segment '\(segment)' has a map at fd \(fd)") }
        let keySize = Int(map.attributes.keySize), valueSize = Int(map.attributes.valueSize)
        let key = try Parameters.key(try p.required("key"), size: keySize)
        let values = try db.keyValues(fd: fd, key: key, segment: segment)
        let times = Dictionary(uniqueKeysWithValues: snapshots.map { ($0.id, $0.createdAt) })

        var points: [(x: Int64, y: Double, label: String)] = []
        for (id, value) in values {
            guard let value, let number = Self.number(value, valueSize: valueSize) else { continue }
            points.append((id, number, MapEntryFormat.describe(value, valueSize: valueSize)))
        }
        var body = "<p>map <code>\(HTML.escape(map.name))</code> (fd \(fd)) of segment <code>\(HTML.escape(segment))</code>, key "
            + "<code>\(HTML.escape(Self.keyText(key, keySize: keySize)))</code>: present in \(values.filter { $0.value != nil }.count) of \(values.count) snapshots.</p>"
        body += points.isEmpty && values.contains(where: { $0.value != nil })
            ? "<p class=\"muted\">values longer than 8 bytes are listed, not plotted</p>"
            : SVGPlot(series: [SVGPlot.Series(name: "value", color: SVGPlot.palette[0], points: points)]).rendered()

        body += "<h2>Changes</h2><table class=\"changes\"><tr><th>snapshot</th><th>time</th><th>value</th><th></th></tr>"
        var previous: (id: Int64, value: [UInt8]?)?
        var rows: [String] = []
        for (id, value) in values {
            defer { previous = (id, value) }
            guard previous == nil ? value != nil : previous!.value != value else { continue }
            let shown = value.map { HTML.escape(MapEntryFormat.describe($0, valueSize: valueSize)) } ?? "<span class=\"muted\">absent</span>"
            let diff = previous.map { HTML.link("/diff?a=\($0.id)&b=\(id)", "diff") } ?? ""
            rows.append("<tr class=\"change\"><td>\(HTML.link("/snapshots/\(id)", "#\(id)"))</td><td>\(times[id].map { TimeText.format($0) } ?? "")</td>"
                + "<td class=\"mono\">\(shown)</td><td>\(diff)</td></tr>")
        }
        body += rows.reversed().joined() + "</table>"
        return .html(HTML.page(title: "Key \(Hex.encode(key)) over time", crumbs: [("fd \(fd)", nil)], body))
    }

    /// A value as a number to plot: little-endian, up to 8 bytes, per-CPU values summed.
    static func number(_ value: [UInt8], valueSize: Int) -> Double? {
        let size = valueSize > 0 && value.count % valueSize == 0 ? valueSize : value.count
        guard size > 0, size <= 8 else { return nil }
        return stride(from: 0, to: value.count, by: size).reduce(0.0) { sum, start in
            sum + Double(value[start ..< start + size].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        }
    }
}

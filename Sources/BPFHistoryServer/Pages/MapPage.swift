import BPFModel
import BPFReports
import BPFSnapshots

/// `/snapshots/{ref}/maps/{fd}?offset=N&limit=M&key=K`: a page of the map's entries in key
/// order, and the entry of one key (hex or integer) when asked.
extension HistoryBrowser {
    func mapPage(_ reference: String, fd fdText: String, _ p: Parameters) throws -> Reply {
        try read { try mapPage(reference, fd: fdText, p, $0) }
    }

    private func mapPage(_ reference: String, fd fdText: String, _ p: Parameters, _ db: any SQLConnection) throws -> Reply {
        let id = try db.resolve(reference)
        guard let fd = Int(fdText), case .map(let map)? = try db.handler(of: id, fd: fd)?.handler else {
            throw BrowseError.notFound("snapshot \(id) has no map at fd \(fdText)")
        }
        let limit = try p.int("limit", in: 1 ... Self.maximumPageSize, default: 100)
        let offset = try p.int("offset", in: 0 ... Int(Int32.max), default: 0)
        guard let page = try db.mapEntries(of: id, fd: fd, offset: offset, limit: limit) else {
            throw BrowseError.notFound("snapshot \(id) holds no contents for the map at fd \(fd)")
        }
        let info = try db.info(id)
        let a = map.attributes
        let keySize = Int(a.keySize), valueSize = Int(a.valueSize)
        let here = "/snapshots/\(id)/maps/\(fd)"
        func plotLink(_ key: [UInt8]) -> String {
            HTML.link("/plot?segment=\(HTML.query(info.segmentName))&fd=\(fd)&key=\(Hex.encode(key))", "over time")
        }

        var body = "<p class=\"mono\">\(HTML.escape(HandlerDescription.details(.map(map), entries: page.total)))</p>"
        body += """
            <form class="inline" action="\(here)" method="get">key <input name="key" value="\(HTML.escape(p.string("key") ?? ""))"
            placeholder="hex or integer" size="24"> <button>find</button></form>
            """
        if let text = p.string("key") {
            let key = try Parameters.key(text, size: keySize)
            if let value = try db.mapValue(of: id, fd: fd, key: key) {
                body += "<table class=\"found\"><tr><th>key</th><th>value</th><th></th></tr><tr class=\"entry\"><td class=\"mono\">"
                    + "\(HTML.escape(Self.keyText(key, keySize: keySize)))</td><td class=\"mono\">"
                    + "\(HTML.escape(MapEntryFormat.describe(value, valueSize: valueSize)))</td><td>\(plotLink(key))</td></tr></table>"
            } else {
                body += "<p class=\"error\">no entry with key \(HTML.escape(Hex.encode(key))) in snapshot #\(id) · \(plotLink(key))</p>"
            }
        }

        let last = page.offset + page.entries.count
        var pager = "<div class=\"pager\">entries \(page.entries.isEmpty ? 0 : page.offset + 1)–\(last) of \(page.total)"
        func pageLink(_ start: Int, _ text: String) -> String { HTML.link("\(here)?offset=\(start)&limit=\(limit)", text) }
        if page.offset > 0 { pager += " · " + pageLink(0, "first") + " · " + pageLink(max(0, page.offset - limit), "previous") }
        if last < page.total {
            pager += " · " + pageLink(last, "next") + " · " + pageLink(max(0, (page.total - 1) / limit * limit), "last")
        }
        body += pager + "</div><table class=\"entries\"><tr><th>\(keySize == 0 ? "position" : "key")</th><th>value</th><th></th></tr>"
        for (key, value) in page.entries {
            body += "<tr class=\"entry\"><td class=\"mono\">\(HTML.escape(Self.keyText(key, keySize: keySize)))</td>"
                + "<td class=\"mono\">\(HTML.escape(MapEntryFormat.describe(value, valueSize: valueSize)))</td><td>\(plotLink(key))</td></tr>"
        }
        body += "</table>"
        return .html(HTML.page(title: "Map \(map.name) (fd \(fd))", crumbs: [("#\(id)", "/snapshots/\(id)"), ("fd \(fd)", nil)], body))
    }

    /// A stored key for people: hex with its integer, or a queue or stack position.
    static func keyText(_ key: [UInt8], keySize: Int) -> String {
        keySize == 0 ? String(key.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }) : MapEntryFormat.single(key)
    }
}

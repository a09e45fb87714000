import BPFModel
import BPFReports
import BPFSnapshots
import BPFVM

/// `/diff?a=REF&b=REF`: what `snap diff` prints, with changed programs side by side.
extension HistoryBrowser {
    func diffPage(_ p: Parameters) throws -> Reply {
        let (a, b) = (try p.required("a"), try p.required("b"))
        let diff = try diff(a, b)
        // Key plots follow the map in the segment of the stored side.
        let segment = try [b, a].first { $0 != "live" }.map { side in try read { try $0.info($0.resolve(side)).segmentName } }
        let stat = DiffRenderer(colored: false).stat(diff).split(separator: "\n").map { HTML.escape(String($0)) }.joined(separator: "<br>")
        var body = "<p>\(Self.sideLink(a)) → \(Self.sideLink(b)) · \(HTML.link("/api/diff?a=\(HTML.query(a))&b=\(HTML.query(b))", "JSON"))</p>"
        body += diff.isEmpty ? "<p>no differences</p>" : "<p class=\"muted\">\(stat)</p>"
        for r in diff.removed { body += "<h2 class=\"del\">− \(Self.title(r))</h2>" + Self.detailsLine(r) }
        for r in diff.added { body += "<h2 class=\"add\">+ \(Self.title(r))</h2>" + Self.detailsLine(r) }
        for c in diff.changed {
            body += "<h2>~ \(Self.title(c.new))</h2>"
            if !c.attributeChanges.isEmpty {
                body += "<table class=\"attrs\"><tr><th>attribute</th><th>old</th><th>new</th></tr>"
                for x in c.attributeChanges {
                    body += "<tr class=\"chg\"><td>\(HTML.escape(x.name))</td><td class=\"mono\">\(HTML.escape(x.old))</td><td class=\"mono\">\(HTML.escape(x.new))</td></tr>"
                }
                body += "</table>"
            }
            body += Self.sideBySide(c)
            body += entries(c, segment: segment)
        }
        return .html(HTML.page(title: "Diff \(a) → \(b)", crumbs: [("diff", nil)], body))
    }

    private static func sideLink(_ reference: String) -> String {
        reference == "live" ? "<b>live</b>" : HTML.link("/snapshots/\(HTML.query(reference))", reference)
    }

    private static func title(_ r: HandlerRecord) -> String {
        "fd \(r.fd) \(r.handler.kind.shortName)" + (r.handler.name.map { " <code>\(HTML.escape($0))</code>" } ?? "")
    }

    private static func detailsLine(_ r: HandlerRecord) -> String {
        "<p class=\"mono\">\(HTML.escape(HandlerDescription.details(r.handler, entries: r.handler.mapEntryCount)))</p>"
    }

    /// Old and new instructions in two columns: kept ones on both sides, runs of deleted and
    /// inserted ones paired up row by row; far from any change, kept runs fold to "⋯".
    private static func sideBySide(_ c: HandlerChange) -> String {
        guard case .program(let old) = c.old.handler, case .program(let new) = c.new.handler,
              c.instructionChanges.contains(where: { $0.operation != .kept }) else { return "" }
        let (oldProgram, newProgram) = (try? Program(bytecode: old.bytecode), try? Program(bytecode: new.bytecode))
        func text(_ program: Program?, _ index: Int?, _ bytes: [UInt8]) -> String {
            guard let program, let index else { return Hex.encode(bytes) }
            return Disassembler.text(of: program, at: index)
        }
        let edits = c.instructionChanges
        var rows: [(old: InstructionEdit?, new: InstructionEdit?)] = []
        var i = 0
        while i < edits.count {
            if edits[i].operation == .kept { rows.append((edits[i], edits[i])); i += 1; continue }
            var deleted: [InstructionEdit] = [], inserted: [InstructionEdit] = []
            while i < edits.count, edits[i].operation != .kept {
                if edits[i].operation == .deleted { deleted.append(edits[i]) } else { inserted.append(edits[i]) }
                i += 1
            }
            for k in 0 ..< max(deleted.count, inserted.count) {
                rows.append((k < deleted.count ? deleted[k] : nil, k < inserted.count ? inserted[k] : nil))
            }
        }
        let context = 3
        var near = [Bool](repeating: false, count: rows.count)
        for n in rows.indices where rows[n].old?.operation != .kept {
            for k in max(0, n - context) ... min(rows.count - 1, n + context) { near[k] = true }
        }
        var out = "<table class=\"sbs\"><tr><th></th><th>old (#\(old.instructionCount))</th><th></th><th>new (#\(new.instructionCount))</th></tr>"
        var folded = false
        for (n, row) in rows.enumerated() {
            guard near[n] else {
                if !folded { out += "<tr><td class=\"num\">⋯</td><td></td><td class=\"num\">⋯</td><td></td></tr>" }
                folded = true
                continue
            }
            folded = false
            let kept = row.old?.operation == .kept
            let left = row.old.map { HTML.escape(text(oldProgram, $0.oldIndex, $0.bytes)) } ?? ""
            let right = row.new.map { HTML.escape(text(newProgram, $0.newIndex, $0.bytes)) } ?? ""
            out += "<tr><td class=\"num\">\(row.old?.oldIndex.map(String.init) ?? "")</td><td class=\"\(kept ? "" : row.old == nil ? "" : "del")\">\(left)</td>"
                + "<td class=\"num\">\(row.new?.newIndex.map(String.init) ?? "")</td><td class=\"\(kept ? "" : row.new == nil ? "" : "add")\">\(right)</td></tr>"
        }
        return out + "</table>"
    }

    /// Changed map entries (the first `diffEntriesShown`), each key linked to its plot.
    private func entries(_ c: HandlerChange, segment: String?) -> String {
        let m = c.mapChanges
        guard !m.isEmpty else { return "" }
        var keySize = 0, valueSize = 0
        if case .map(let map) = c.new.handler { (keySize, valueSize) = (Int(map.attributes.keySize), Int(map.attributes.valueSize)) }
        var out = "<p>entries: <span class=\"add\">+\(m.addedCount)</span> <span class=\"del\">−\(m.removedCount)</span> ~\(m.changedCount)</p>"
        out += "<table class=\"entries\"><tr><th></th><th>key</th><th>old</th><th>new</th><th></th></tr>"
        let all = m.entries
        for e in all.prefix(Self.diffEntriesShown) {
            let (cls, sign) = e.old == nil ? ("add", "+") : e.new == nil ? ("del", "−") : ("chg", "~")
            let plot = segment.map { HTML.link("/plot?segment=\(HTML.query($0))&fd=\(c.fd)&key=\(Hex.encode(e.key))", "over time") } ?? ""
            out += "<tr class=\"\(cls) entry\"><td>\(sign)</td><td class=\"mono\">\(HTML.escape(Self.keyText(e.key, keySize: keySize)))</td>"
                + "<td class=\"mono\">\(e.old.map { HTML.escape(MapEntryFormat.describe($0, valueSize: valueSize)) } ?? "")</td>"
                + "<td class=\"mono\">\(e.new.map { HTML.escape(MapEntryFormat.describe($0, valueSize: valueSize)) } ?? "")</td><td>\(plot)</td></tr>"
        }
        out += "</table>"
        if all.count > Self.diffEntriesShown { out += "<p class=\"muted\">… and \(all.count - Self.diffEntriesShown) more (all of them in the JSON)</p>" }
        return out
    }
}

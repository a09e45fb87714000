import BPFModel
import BPFReports
import BPFSnapshots
import BPFVM

/// `/snapshots/{ref}`: one snapshot's handlers, linked to their programs and maps.
extension HistoryBrowser {
    func snapshotPage(_ reference: String) throws -> Reply {
        try read { try snapshotPage(reference, $0) }
    }

    private func snapshotPage(_ reference: String, _ db: any SQLConnection) throws -> Reply {
        let id = try db.resolve(reference)
        let info = try db.info(id)
        var body = "<p>\(TimeText.format(info.createdAt)) · segment <code>\(HTML.escape(info.segmentName))</code> on "
            + "\(HTML.escape(info.host)) · generation \(info.generation)"
            + info.tags.map { " <span class=\"tag\">\(HTML.escape($0))</span>" }.joined() + "</p>"
        let message = SnapshotFormat.message(info)
        if !message.isEmpty { body += "<p>\(HTML.escape(message))</p>" }
        var actions = [HTML.link("/diff?a=\(id)&b=live", "diff with live")]
        if let parent = info.parent { actions.insert(HTML.link("/diff?a=\(parent)&b=\(id)", "changes since #\(parent)"), at: 0) }
        if restorer != nil { actions.append(HTML.link("/snapshots/\(id)/restore", "restore…")) }
        actions.append(HTML.link("/api/snapshots/\(id)", "JSON"))
        body += "<p>" + actions.joined(separator: " · ") + "</p>"

        body += "<table class=\"handlers\"><tr><th>fd</th><th>kind</th><th>name</th><th>details</th></tr>"
        for (r, entries) in try db.handlerSummaries(of: id) {
            let name = HTML.escape(r.handler.name ?? "-")
            let linked: String
            switch r.handler {
            case .program: linked = "<a href=\"/snapshots/\(id)/programs/\(r.fd)\">\(name)</a>"
            case .map: linked = "<a href=\"/snapshots/\(id)/maps/\(r.fd)\">\(name)</a>"
            default: linked = name
            }
            body += "<tr class=\"handler\"><td>\(r.fd)</td><td>\(r.handler.kind.shortName)</td><td>\(linked)</td>"
                + "<td class=\"mono\">\(HTML.escape(HandlerDescription.details(r.handler, entries: entries)))</td></tr>"
        }
        body += "</table>"
        return .html(HTML.page(title: "Snapshot #\(id)", crumbs: [("#\(id)", nil)], body))
    }

    /// `/snapshots/{ref}/programs/{fd}`: the program's instructions, disassembled.
    func programPage(_ reference: String, fd: String) throws -> Reply {
        let (id, handler) = try read { db in
            let id = try db.resolve(reference)
            return (id, try Int(fd).flatMap { try db.handler(of: id, fd: $0) })
        }
        guard let fd = Int(fd), case .program(let p)? = handler?.handler else {
            throw BrowseError.notFound("snapshot \(id) has no program at fd \(fd)")
        }
        var body = "<p class=\"mono\">\(HTML.escape(HandlerDescription.details(.program(p))))</p>"
        let instructions = p.bytecode.count / 8
        if let program = try? Program(bytecode: p.bytecode) {
            body += "<table class=\"sbs\">"
            for i in 0 ..< program.instructions.count {
                let bytes = p.bytecode[i * 8 ..< i * 8 + 8]
                body += "<tr><td class=\"num\">\(i)</td><td class=\"muted\">\(Hex.encode(bytes))</td>"
                    + "<td>\(HTML.escape(Disassembler.text(of: program, at: i)))</td></tr>"
            }
            body += "</table>"
        } else {
            body += "<p class=\"error\">the \(instructions) instructions do not decode; raw bytes:</p><pre>\(Hex.encode(p.bytecode))</pre>"
        }
        return .html(HTML.page(title: "Program \(p.name) (fd \(fd))", crumbs: [("#\(id)", "/snapshots/\(id)"), ("fd \(fd)", nil)], body))
    }
}

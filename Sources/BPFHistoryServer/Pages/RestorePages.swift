/// `/snapshots/{ref}/restore`: with `--allow-restore`, the plan behind a confirmation (GET), then
/// the restore itself (POST, with the session's CSRF token).
extension HistoryBrowser {
    func restoreConfirmation(_ reference: String, session: String) throws -> Reply {
        let restorer = try enabledRestorer()
        let id = try snapshot(reference)
        let plan = try history.use { try restorer($0, id, true) }
        var body = "<p>Restoring snapshot \(HTML.link("/snapshots/\(id)", "#\(id)")) into the segment would:</p><pre>"
            + plan.map(HTML.escape).joined(separator: "\n") + "</pre>"
        body += """
            <p>The current state is saved as a snapshot first, so this can be undone.</p>
            <form method="post" action="/snapshots/\(id)/restore"><input type="hidden" name="token" value="\(sessions.token(for: session))">
            <button class="danger">restore snapshot #\(id)</button> <a href="/snapshots/\(id)">cancel</a></form>
            """
        return .html(HTML.page(title: "Restore snapshot #\(id)?", crumbs: [("#\(id)", "/snapshots/\(id)"), ("restore", nil)], body))
    }

    func restore(_ reference: String, form: Parameters, session: String?) throws -> Reply {
        let restorer = try enabledRestorer()
        guard sessions.accepts(token: form.string("token"), session: session) else {
            throw BrowseError.forbidden("the restore form's token does not match this browser session: reload the confirmation page")
        }
        let id = try snapshot(reference)
        let lines = try history.use { try restorer($0, id, false) }
        let body = "<pre>" + lines.map(HTML.escape).joined(separator: "\n") + "</pre><p>" + HTML.link("/", "back to the history") + "</p>"
        return .html(HTML.page(title: "Restored snapshot #\(id)", crumbs: [("#\(id)", "/snapshots/\(id)")], body))
    }

    private func enabledRestorer() throws -> Restorer {
        guard let restorer else { throw BrowseError.forbidden("restore is disabled: start `snap serve` with --allow-restore") }
        return restorer
    }
}

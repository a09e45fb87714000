import Foundation

/// Building blocks of the pages: escaping, links and the shared layout (style embedded, no
/// scripts, nothing fetched from elsewhere).
enum HTML {
    /// `text` safe inside an element or a quoted attribute.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// A query-string value.
    static func query(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_.~"))) ?? text
    }

    static func link(_ href: String, _ text: String, cls: String? = nil) -> String {
        "<a href=\"\(escape(href))\"\(cls.map { " class=\"\($0)\"" } ?? "")>\(escape(text))</a>"
    }

    /// A whole page: header with the way back to the timeline, then `body` (already HTML).
    static func page(title: String, crumbs: [(String, String?)] = [], _ body: String) -> String {
        let trail = ([("history", "/")] + crumbs).map { text, href in href.map { link($0, text) } ?? escape(text) }
            .joined(separator: " <span class=\"sep\">/</span> ")
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title)) · bpftimetool</title><style>\(style)</style></head>
            <body><header><span class="brand">bpftimetool</span> <nav>\(trail)</nav></header>
            <main><h1>\(escape(title))</h1>
            \(body)
            </main></body></html>
            """
    }

    static let style = """
        :root{--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#f6f8fa;--add:#dafbe1;--addfg:#116329;--del:#ffebe9;--delfg:#82071e;--chg:#fff8c5;--accent:#0969da}
        *{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:#fff}
        header{background:#24292f;color:#fff;padding:10px 24px;display:flex;gap:16px;align-items:baseline}
        header a{color:#c9d1d9}.brand{font-weight:600}.sep{color:#6e7681}
        main{padding:8px 24px 40px;max-width:1280px}h1{font-size:22px;margin:12px 0}h2{font-size:17px;margin:24px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
        a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
        table{border-collapse:collapse;margin:6px 0 12px}th,td{border-bottom:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top}
        th{background:var(--bg);font-weight:600}tr:hover td{background:#f6f8fa}
        code,.mono,td.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
        .muted{color:var(--muted)}.tag{display:inline-block;background:#ddf4ff;color:#0550ae;border-radius:10px;padding:0 8px;margin-right:4px;font-size:12px}
        .restore{background:#fbefff;color:#6639ba}
        .add td,.add{background:var(--add)}.del td,.del{background:var(--del)}.chg td{background:var(--chg)}
        .sbs td{font-family:ui-monospace,Menlo,monospace;font-size:12.5px;white-space:pre;border:none;padding:1px 8px}.sbs .num{color:var(--muted);text-align:right}
        form.inline{display:inline-flex;gap:6px;align-items:center;margin:6px 0}input,select,button{font:inherit;padding:3px 8px;border:1px solid var(--line);border-radius:6px}
        button{background:var(--bg);cursor:pointer}button.danger{background:#cf222e;color:#fff;border-color:#a40e26}
        .pager{margin:8px 0}.pager a,.pager span{margin-right:10px}.error{background:var(--del);color:var(--delfg);padding:8px 12px;border-radius:6px}
        svg.plot{background:#fff;border:1px solid var(--line);border-radius:6px}svg.plot .pt{fill:var(--accent)}svg.plot polyline{fill:none;stroke:var(--accent);stroke-width:1.5}
        svg.plot text{font-size:11px;fill:var(--muted)}svg.plot line.grid{stroke:#eaeef2}
        .legend span{margin-right:14px;font-size:12px}.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
        """
}

import Foundation

/// A migration's text cut into statements, for a protocol that runs one at a time: at each `;`
/// outside quotes (`'...'`, `"..."`, `$$...$$`) and comments (`-- ...`).
enum SQLStatements {
    static func split(_ sql: String) -> [String] {
        var statements: [String] = [], current = ""
        var quote: String?, comment = false
        let characters = Array(sql)
        var i = 0
        while i < characters.count {
            let c = characters[i], next = i + 1 < characters.count ? characters[i + 1] : nil
            if comment {
                if c == "\n" { comment = false }
            } else if let q = quote {
                current.append(c)
                if q == "$$", c == "$", next == "$" {
                    current.append("$")
                    i += 1
                    quote = nil
                } else if q == String(c) {
                    quote = nil
                }
            } else if c == "-", next == "-" {
                comment = true
            } else if c == "$", next == "$" {
                current += "$$"
                i += 1
                quote = "$$"
            } else if c == "'" || c == "\"" {
                current.append(c)
                quote = String(c)
            } else if c == ";" {
                let statement = current.trimmingCharacters(in: .whitespacesAndNewlines)
                if !statement.isEmpty { statements.append(statement) }
                current = ""
            } else {
                current.append(c)
            }
            i += 1
        }
        let rest = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !rest.isEmpty { statements.append(rest) }
        return statements
    }
}

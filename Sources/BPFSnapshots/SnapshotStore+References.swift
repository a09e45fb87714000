import GRDB

/// How a snapshot is named on the command line: an id, a tag or `latest` (the newest
/// snapshot), optionally followed by `~N` for the Nth snapshot of the same segment before it
/// (`~` alone is `~1`), as in git.
enum SnapshotReference {
    static let latest = "latest"

    /// Whether `tag` can be a tag without shadowing or being parsed as another reference.
    static func isPlainName(_ tag: String) -> Bool {
        tag != latest && !tag.contains("~")
    }

    static func resolve(_ reference: String, _ db: Database) throws -> Int64 {
        var name = Substring(reference), back = 0
        if let tilde = reference.firstIndex(of: "~") {
            let count = reference[reference.index(after: tilde)...]
            guard let n = count.isEmpty ? 1 : Int(count), n >= 0 else { throw SnapshotError.unknownSnapshot(reference) }
            (name, back) = (reference[..<tilde], n)
        }
        let id: Int64?
        if name == latest {
            id = try Int64.fetchOne(db, sql: "SELECT max(id) FROM snapshots")
        } else if let number = Int64(name) {
            id = try Int64.fetchOne(db, sql: "SELECT id FROM snapshots WHERE id = ?", arguments: [number])
        } else {
            id = try Int64.fetchOne(db, sql: "SELECT snapshot FROM tags WHERE name = ?", arguments: [String(name)])
        }
        guard let id else { throw SnapshotError.unknownSnapshot(reference) }
        guard back > 0 else { return id }
        guard let earlier = try Int64.fetchOne(db, sql: """
            SELECT id FROM snapshots WHERE id < ? AND segment_name = (SELECT segment_name FROM snapshots WHERE id = ?)
            ORDER BY id DESC LIMIT 1 OFFSET ?
            """, arguments: [id, id, back - 1]) else { throw SnapshotError.unknownSnapshot(reference) }
        return earlier
    }
}

import GRDB

/// How a snapshot is named on the command line: an id, a tag or `latest` (the newest
/// snapshot), optionally followed by `~N` for the Nth snapshot of the same segment (and host)
/// before it (`~` alone is `~1`), as in git, and prefixed with `HOST:` (see `SQLConnection.resolve`).
enum SnapshotReference {
    static let latest = "latest"

    /// Whether `tag` can be a tag without shadowing or being parsed as another reference.
    static func isPlainName(_ tag: String) -> Bool {
        tag != latest && !tag.contains("~") && !tag.contains(":")
    }

    static func resolve(_ reference: String, _ db: Database) throws -> Int64 {
        try SQLiteConnection(db: db, location: "").resolve(reference)
    }
}

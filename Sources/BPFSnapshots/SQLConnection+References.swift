/// Snapshot references on any history: an id, a tag or `latest`, then `~N` for the Nth snapshot
/// before it of the same host and segment, optionally prefixed with `HOST:` on a history that
/// several hosts push into (`hostA:latest` is host A's newest snapshot, `hostA:base` its tag
/// `base`, kept as `hostA/base` when another host took `base` first).
extension SQLConnection {
    public func resolve(_ reference: String) throws -> Int64 {
        var name = Substring(reference), back = 0
        if let tilde = reference.firstIndex(of: "~") {
            let count = reference[reference.index(after: tilde)...]
            guard let n = count.isEmpty ? 1 : Int(count), n >= 0 else { throw SnapshotError.unknownSnapshot(reference) }
            (name, back) = (reference[..<tilde], n)
        }
        var host: String?
        if let colon = name.firstIndex(of: ":") {
            host = String(name[..<colon])
            name = name[name.index(after: colon)...]
        }
        let id: Int64?
        if name == SnapshotReference.latest {
            let newest = try host.map { try value("SELECT max(id) FROM snapshots WHERE host = $1", [.text($0)]) }
                ?? value("SELECT max(id) FROM snapshots")
            id = newest?.integer
        } else if let number = Int64(name) {
            id = try value("SELECT id FROM snapshots WHERE id = $1" + (host == nil ? "" : " AND host = $2"),
                           [.integer(number)] + (host.map { [SQLValue.text($0)] } ?? []))?.integer
        } else if let host {
            id = try value("""
                SELECT t.snapshot FROM tags t JOIN snapshots s ON s.id = t.snapshot
                WHERE (t.name = $1 AND s.host = $2) OR t.name = $3 ORDER BY t.name = $1 DESC LIMIT 1
                """, [.text(String(name)), .text(host), .text("\(host)/\(name)")])?.integer
        } else {
            id = try value("SELECT snapshot FROM tags WHERE name = $1", [.text(String(name))])?.integer
        }
        guard let id else { throw SnapshotError.unknownSnapshot(reference) }
        guard back > 0 else { return id }
        guard let earlier = try value("""
            SELECT s.id FROM snapshots s JOIN snapshots o ON o.id = $1
            WHERE s.id < o.id AND s.segment_name = o.segment_name AND s.host = o.host
            ORDER BY s.id DESC LIMIT 1 OFFSET $2
            """, [.integer(id), .integer(Int64(back - 1))])?.integer else { throw SnapshotError.unknownSnapshot(reference) }
        return earlier
    }
}

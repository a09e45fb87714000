import GRDB

/// Named remotes (`snap remote add NAME URL`), kept in the local history (migration 0009).
extension SnapshotStore {
    /// Every remote, by name.
    public func remotes() throws -> [(name: String, url: String)] {
        try guarded { try pool.read { db in try Row.fetchAll(db, sql: "SELECT name, url FROM remotes ORDER BY name").map { ($0[0], $0[1]) } } }
    }

    /// The URL of remote `name`, nil when there is none.
    public func remote(_ name: String) throws -> String? {
        try guarded { try pool.read { try String.fetchOne($0, sql: "SELECT url FROM remotes WHERE name = ?", arguments: [name]) } }
    }

    /// Adds remote `name`; an existing name is an error. The URL must name a history.
    public func addRemote(_ name: String, url: String) throws {
        _ = try HistoryLocation(url)
        guard !name.isEmpty, !name.contains("/"), !name.contains(":"), HistoryLocation.scheme(of: name) == nil else {
            throw SnapshotError.invalidRemote(name)
        }
        try guarded {
            try pool.write { db in
                guard try String.fetchOne(db, sql: "SELECT url FROM remotes WHERE name = ?", arguments: [name]) == nil else {
                    throw SnapshotError.remoteExists(name)
                }
                try db.execute(sql: "INSERT INTO remotes (name, url) VALUES (?, ?)", arguments: [name, url])
            }
        }
    }

    /// Removes remote `name`; an unknown one is an error.
    public func removeRemote(_ name: String) throws {
        try guarded {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM remotes WHERE name = ?", arguments: [name])
                if db.changesCount == 0 { throw SnapshotError.unknownRemote(name) }
            }
        }
    }
}

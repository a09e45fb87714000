/// Everything the store refuses, worded for the person at the terminal.
public enum SnapshotError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case notADatabase(path: String)
    case foreignDatabase(path: String)
    case newerSchema(path: String, version: Int, name: String)
    case changedMigration(path: String, version: Int, name: String)
    case unknownSnapshot(String)
    case tagTaken(tag: String, snapshot: Int64)
    case invalidTag(String)
    case invalidRecord(fd: Int, reason: String)
    case unknownFDs([Int])
    case wrongKeySize(fd: Int, given: Int, expected: Int)
    case missingDependencies([Int: [Int]])
    /// A selective restore would leave programs attached to fds that hold nothing.
    case danglingAttachments([Int: [Int]])
    case database(String)
    case noHistory(path: String)
    case reservedTag(String)
    case unknownTag(String)
    case damaged(String)
    case unsupportedLocation(scheme: String)
    case invalidLocation(String, reason: String)
    case notOnPostgres(command: String)
    case conflict(String)
    case invalidRemote(String)
    case remoteExists(String)
    case unknownRemote(String)
    /// `snap remote` on a PostgreSQL history: remotes are each host's own.
    case remotesOnPostgres

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            "cannot open snapshot database \(path): \(reason)"
        case .notADatabase(let path):
            "\(path) is not a SQLite database (corrupt or another kind of file); it was left untouched"
        case .foreignDatabase(let path):
            "\(path) is a SQLite database but not a snapshot history; it was left untouched"
        case .newerSchema(let path, let version, let name):
            "\(path) was written by a newer bpftimetool (schema migration \(version) '\(name)' is unknown to this one); it was left untouched"
        case .changedMigration(let path, let version, let name):
            "\(path) applied migration \(version) '\(name)' with a different checksum than this build carries; it was left untouched"
        case .unknownSnapshot(let reference):
            "no snapshot with id or tag '\(reference)'"
        case .tagTaken(let tag, let snapshot):
            "tag '\(tag)' already names snapshot \(snapshot)"
        case .invalidTag(let tag):
            "invalid tag '\(tag)': a tag is non-empty, has no whitespace, '~' or ':', and is neither a number nor 'latest'"
        case .invalidRecord(let fd, let reason):
            "handler at fd \(fd) cannot be stored: \(reason)"
        case .unknownFDs(let fds):
            "fd \(fds.map(String.init).joined(separator: ", ")) neither in the snapshot nor in the segment"
        case .wrongKeySize(let fd, let given, let expected):
            "a \(given)-byte key, but the map at fd \(fd) has \(expected)-byte keys"
        case .missingDependencies(let missing):
            "selective restore refused: " + missing.keys.sorted().map { fd in
                "fd \(fd) refers to fd \(missing[fd, default: []].map(String.init).joined(separator: ", "))"
            }.joined(separator: "; ") + ", which would be missing (restore them too, or with dependencies)"
        case .danglingAttachments(let dangling):
            "selective restore refused: " + dangling.keys.sorted().map { fd in
                "program fd \(fd) is attached to fd \(dangling[fd, default: []].map(String.init).joined(separator: ", "))"
            }.joined(separator: "; ") + ", which would hold nothing (restore them too, or allow dangling attachments as import does)"
        case .database(let message):
            "snapshot database error: \(message)"
        case .noHistory(let path):
            "no history at \(path)"
        case .reservedTag(let tag):
            "'\(tag)' cannot be a tag: it is reserved (`live` names the segment now)"
        case .unknownTag(let tag):
            "no tag '\(tag)'"
        case .damaged(let what):
            "history damaged: \(what)"
        case .unsupportedLocation(let scheme):
            "--db \(scheme)://... is not a history this tool can use: give a file path (SQLite) or a postgres:// or postgresql:// URL"
        case .invalidLocation(let url, let reason):
            "invalid history URL \(url): \(reason)"
        case .invalidRemote(let name):
            "invalid remote name '\(name)': a remote name is not empty and has no '/' or ':'"
        case .remoteExists(let name):
            "remote '\(name)' exists (`snap remote rm \(name)` first)"
        case .unknownRemote(let name):
            "no remote '\(name)'"
        case .conflict(let message):
            "concurrent writers conflicted: \(message)"
        case .remotesOnPostgres:
            "remotes are kept in a host's own SQLite history (--db PATH), not in a PostgreSQL one: their URLs may carry "
                + "passwords, which a database the fleet shares would show to every host (`snap push` and `snap pull` take a URL too)"
        case .notOnPostgres(let command):
            "`\(command)` works on a SQLite history only (`snap pull` the snapshots into a local history to use it there)"
        }
    }
}

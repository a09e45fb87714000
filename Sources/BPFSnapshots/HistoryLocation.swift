import Foundation

/// Where a history lives, as `--db` or `BPFTIME_SNAP_DB` names it: a path is a SQLite file,
/// `postgres://` or `postgresql://` a PostgreSQL database. Any other `scheme://` is refused, so
/// that a URL is never taken for a relative path (which would create a directory `scheme:`).
public enum HistoryLocation: Equatable, Sendable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresAddress)

    /// Reads `--db`'s value.
    public init(_ value: String) throws {
        guard let scheme = Self.scheme(of: value) else {
            self = .sqlite(path: value)
            return
        }
        guard ["postgres", "postgresql"].contains(scheme.lowercased()) else {
            throw SnapshotError.unsupportedLocation(scheme: scheme)
        }
        self = .postgres(try PostgresAddress(url: value))
    }

    /// `--db` if given, else `BPFTIME_SNAP_DB`, else `~/.bpftime/snapshots.db`.
    public init(option: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        try self.init(option ?? SnapshotStore.defaultPath(environment: environment))
    }

    /// The scheme of `scheme://...` (RFC 3986 letters), nil for anything else.
    static func scheme(of value: String) -> String? {
        guard let range = value.range(of: "://") else { return nil }
        let scheme = value[..<range.lowerBound]
        guard let first = scheme.first, first.isASCII, first.isLetter,
              scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) })
        else { return nil }
        return String(scheme)
    }

    /// The path, or the URL with its password masked: what logs and errors may show.
    public var description: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let address): address.redacted
        }
    }
}

/// A PostgreSQL database named by `postgres://user:password@host:port/database?sslmode=MODE`.
/// A host starting with `/` (percent-encoded in the URL, or `?host=/dir`) is a unix-socket directory.
public struct PostgresAddress: Equatable, Sendable {
    /// How the connection is encrypted, as libpq's `sslmode` says.
    public enum TLSMode: String, Sendable {
        case disable, allow, prefer, require, verifyCA = "verify-ca", verifyFull = "verify-full"
    }

    public var user: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    public var tls: TLSMode

    public init(url: String) throws {
        guard let components = URLComponents(string: url) else {
            throw SnapshotError.invalidLocation(Self.redact(url), reason: "not a URL")
        }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        user = components.user ?? "postgres"
        password = components.password
        host = query["host"] ?? components.host.map { $0.removingPercentEncoding ?? $0 } ?? "localhost"
        if host.isEmpty { host = "localhost" }
        port = components.port ?? 5432
        let name = String(components.path.drop(while: { $0 == "/" }))
        database = name.isEmpty ? user : name
        guard let mode = TLSMode(rawValue: query["sslmode"] ?? "prefer") else {
            throw SnapshotError.invalidLocation(Self.redact(url), reason: "unknown sslmode '\(query["sslmode"] ?? "")'")
        }
        tls = mode
        guard (1...65535).contains(port) else {
            throw SnapshotError.invalidLocation(Self.redact(url), reason: "port \(port) out of range")
        }
    }

    /// True when the host is a unix-socket directory.
    public var isUnixSocket: Bool { host.hasPrefix("/") }

    /// The URL without its password, for logs, errors and origins.
    public var redacted: String {
        let hostText = isUnixSocket ? "localhost" : host
        let socket = isUnixSocket ? "host=\(host)&" : ""
        return "postgres://\(user)\(password == nil ? "" : ":***")@\(hostText):\(port)/\(database)?\(socket)sslmode=\(tls.rawValue)"
    }

    /// The URL as given to a person, with `user:password@` masked; used before it parses.
    static func redact(_ url: String) -> String {
        url.replacingOccurrences(of: #"://([^:/@]*):[^@/]*@"#, with: "://$1:***@", options: .regularExpression)
    }
}

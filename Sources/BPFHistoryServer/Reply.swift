import BPFSnapshots

/// What a route answers, before it becomes an HTTP response.
public struct Reply: Sendable, Equatable {
    public var status: Int
    public var contentType: String
    public var body: String

    static func html(_ body: String, status: Int = 200) -> Reply { Reply(status: status, contentType: "text/html; charset=utf-8", body: body) }
    static func json(_ body: String, status: Int = 200) -> Reply { Reply(status: status, contentType: "application/json", body: body + "\n") }
}

/// A request the browser refuses, with the HTTP status that says why.
public enum BrowseError: Error, Equatable, CustomStringConvertible {
    case badRequest(String)
    case forbidden(String)
    case notFound(String)

    public var status: Int {
        switch self {
        case .badRequest: 400
        case .forbidden: 403
        case .notFound: 404
        }
    }

    public var description: String {
        switch self {
        case .badRequest(let m), .forbidden(let m), .notFound(let m): m
        }
    }

    /// The status and message for any error a page meets: unknown snapshots are 404, a key of
    /// the wrong size 400, anything else the store refuses is the server's trouble (500), never a crash.
    static func classify(_ error: any Error) -> (status: Int, message: String) {
        switch error {
        case let e as BrowseError: (e.status, e.description)
        case SnapshotError.unknownSnapshot: (404, "\(error)")
        case SnapshotError.wrongKeySize: (400, "\(error)")
        default: (500, "\(error)")
        }
    }
}

import BPFSnapshots
import Foundation
import Glibc

/// Where the state a use case leaves is recorded, and who is changing it. Passing nil to a
/// use case records nothing (`--no-record`, `BPFTIME_SNAP_RECORD=0`).
public struct Recording: Sendable {
    /// The history, opened (and created if missing) only after the change, so that a history
    /// that cannot be written never blocks the change itself: a SQLite file, or where `open`
    /// leads (then its description for messages, no password).
    public var historyPath: String
    public var provenance: Provenance
    /// Runs its argument on another kind of history (a PostgreSQL one); nil for the SQLite file
    /// at `historyPath`.
    public var open: (@Sendable ((any SnapshotHistory) throws -> Void) throws -> Void)?

    public init(historyPath: String, provenance: Provenance,
                open: (@Sendable ((any SnapshotHistory) throws -> Void) throws -> Void)? = nil) {
        self.historyPath = historyPath
        self.provenance = provenance
        self.open = open
    }

    /// Runs `body` on the history, opened for this one recording.
    func withHistory(_ body: (any SnapshotHistory) throws -> Void) throws {
        guard let open else { return try body(SnapshotStore(path: historyPath, access: .change)) }
        try open(body)
    }

    /// A recording by this process into `historyPath`, or nil when `BPFTIME_SNAP_RECORD` turns
    /// recording off (`0`, `off`, `false`, `no`).
    public static func unlessDisabled(historyPath: String, arguments: [String] = CommandLine.arguments, toolVersion: String,
                                      environment: [String: String] = ProcessInfo.processInfo.environment,
                                      open: (@Sendable ((any SnapshotHistory) throws -> Void) throws -> Void)? = nil) -> Recording? {
        if isDisabled(environment: environment) { return nil }
        return Recording(historyPath: historyPath, provenance: .ofThisProcess(arguments: arguments, toolVersion: toolVersion), open: open)
    }

    /// True when `BPFTIME_SNAP_RECORD` turns recording off.
    public static func isDisabled(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard let value = environment["BPFTIME_SNAP_RECORD"] else { return false }
        return ["0", "off", "false", "no"].contains(value.lowercased())
    }
}

/// What became of recording a state.
public enum RecordResult: Equatable, Sendable {
    /// Saved as this new snapshot.
    case recorded(Int64)
    /// The segment's latest snapshot already holds exactly this state: nothing was saved.
    case unchanged(Int64)
    /// The history could not take it; the change itself stands.
    case failed(historyPath: String, reason: String)
}

extension Provenance {
    /// This process: its command line (secrets masked), user, uid, pid.
    public static func ofThisProcess(arguments: [String], toolVersion: String) -> Provenance {
        let uid = getuid()
        let user = getpwuid(uid).flatMap { $0.pointee.pw_name.map { String(cString: $0) } } ?? String(uid)
        return Provenance(command: CommandLineText.render(arguments), user: user, uid: uid, pid: getpid(),
                          toolVersion: toolVersion)
    }
}

/// A command line as one line of shell text, for the history: the program's file name, then
/// the arguments, quoted where needed, with secrets masked (the password of a `user:pass@`
/// URL, the value of an option named like a password, token or secret).
enum CommandLineText {
    static func render(_ arguments: [String]) -> String {
        guard let program = arguments.first else { return "" }
        var words = [(program as NSString).lastPathComponent]
        var maskNext = false
        for argument in arguments.dropFirst() {
            words.append(maskNext ? "***" : mask(argument))
            maskNext = isSecretOption(argument) && !argument.contains("=")
        }
        return words.map(quote).joined(separator: " ")
    }

    private static let secretWords = ["password", "passwd", "token", "secret"]

    private static func isSecretOption(_ argument: String) -> Bool {
        guard argument.hasPrefix("-") else { return false }
        let name = argument.split(separator: "=", maxSplits: 1)[0].lowercased()
        return secretWords.contains { name.contains($0) }
    }

    private static func mask(_ argument: String) -> String {
        if isSecretOption(argument), let equals = argument.firstIndex(of: "=") {
            return argument[...equals] + "***"
        }
        // scheme://user:password@host...
        guard let scheme = argument.range(of: "://") else { return argument }
        let rest = argument[scheme.upperBound...]
        guard let at = rest.firstIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":"),
              !rest[..<at].contains("/") else { return argument }
        return argument[..<rest.index(after: colon)] + "***" + argument[at...]
    }

    private static func quote(_ word: String) -> String {
        let plain = !word.isEmpty && word.unicodeScalars.allSatisfy {
            CharacterSet.alphanumerics.contains($0) || "-_./:=,@%+".unicodeScalars.contains($0)
        }
        return plain ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

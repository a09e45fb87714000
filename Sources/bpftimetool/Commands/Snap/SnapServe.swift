import ArgumentParser
import BPFHistoryServer
import BPFLogging
import BPFSnapshots
import BPFState
import Foundation

struct SnapServe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Browse the history in a web browser: timeline, handlers, maps, diffs, key plots, and a JSON API.",
        discussion: """
        Read-only, on loopback unless --listen says otherwise (the page has no authentication). \
        Restoring from the page needs --allow-restore. Prints the address, then serves until interrupted.
        """)

    @Option(help: "Address to listen on: HOST:PORT (port 0 picks a free one).") var listen = "127.0.0.1:8740"
    @Flag(name: .customLong("allow-restore"), help: "Offer restore on snapshot pages (behind a confirmation).") var allowRestore = false
    @OptionGroup var segment: SegmentOptions
    @OptionGroup var store: StoreOptions
    @OptionGroup var record: RecordOptions

    func run() throws {
        let (host, port) = try Self.address(listen)
        let state = try segment.state()
        let recording = allowRestore ? try record.recording(into: store) : nil
        // Read-only unless restoring is allowed: then the undo snapshots are written to it.
        try store.withHistory(access: allowRestore ? .write : .read) { db in
            var restorer: HistoryBrowser.Restorer?
            if allowRestore {
                restorer = { history, id, dryRun in
                    let result = try restore(RestoreRequest(snapshot: id, dryRun: dryRun), state: state, store: history, recording: recording)
                    return result.lines + (RecordOptions.describe(result.record).map { [$0] } ?? [])
                }
            }
            let browser = HistoryBrowser(history: SharedHistory(db), differ: { history, a, b in
                try state.diff(StateReference(a), StateReference(b), store: history)
            }, restorer: restorer)
            if !HistoryServer.isLoopback(host) {
                BPFLog.logger("serve").warning("listening on \(host), not loopback: the page has no authentication, anyone who can reach it can read the history\(allowRestore ? " and restore snapshots" : "")")
            }
            // The location as logs may show it: a connection string without its password.
            let location = try store.location.description
            let outcome = ServeOutcome()
            Task {
                do {
                    try await HistoryServer(browser: browser, host: host, port: port).run { bound in
                        print("serving \(location) at http://\(host.contains(":") ? "[\(host)]" : host):\(bound)/")
                        fflush(nil)
                    }
                } catch {
                    outcome.error = error
                }
                outcome.done.signal()
            }
            outcome.done.wait()
            if let error = outcome.error { throw error }
        }
    }

    /// `HOST:PORT`, `[IPv6]:PORT`.
    static func address(_ text: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0 ... 65535).contains(port) else {
            throw ValidationError("--listen \(text): expected HOST:PORT, e.g. 127.0.0.1:8740")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ValidationError("--listen \(text): no host") }
        return (host, port)
    }
}

/// How the server task ended, for the command waiting on it.
private final class ServeOutcome: @unchecked Sendable {
    let done = DispatchSemaphore(value: 0)
    var error: (any Error)?
}

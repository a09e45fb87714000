import BPFModel
import Foundation
import Glibc

/// A one-line progress display on stderr for a long command (`snap save`, `restore`, `export`,
/// `diff`, `prune`, `gc`): only when stderr is a terminal, and only once the work has run longer than
/// a second (`BPFTIME_PROGRESS_AFTER` seconds); redrawn in place with `\r`, and ended with the
/// time it took and a newline. Elsewhere (a pipe, a file) nothing is printed.
final class ProgressLine: @unchecked Sendable {
    /// Runs `body` with a progress line titled `title` when stderr is a terminal.
    static func around<T>(_ title: String, _ body: () throws -> T) throws -> T {
        guard isatty(STDERR_FILENO) != 0 else { return try body() }
        let line = ProgressLine(title, after: try delay())
        WorkProgress.current = line.progress
        line.start()
        defer {
            line.finish()
            WorkProgress.current = nil
        }
        return try body()
    }

    /// `BPFTIME_PROGRESS_AFTER`, else 1 second.
    private static func delay() throws -> Double {
        guard let text = ProcessInfo.processInfo.environment["BPFTIME_PROGRESS_AFTER"] else { return 1 }
        guard let seconds = Double(text), seconds >= 0, seconds <= 3600 else {
            throw ToolError("BPFTIME_PROGRESS_AFTER=\(text) is not a number of seconds from 0 to 3600")
        }
        return seconds
    }

    let progress = WorkProgress()
    private let title: String
    private let delay: Double
    private let started = Date()
    private let lock = NSLock()
    private var stopped = false
    private var shown = false
    private let done = DispatchSemaphore(value: 0)

    private init(_ title: String, after delay: Double) {
        self.title = title
        self.delay = delay
    }

    private func start() {
        // Drawn at once when asked to show from the start, so that even a short command shows it.
        if delay <= 0 { draw(text(progress.current)) }
        Thread { [self] in
            while !lock.withLock({ stopped }) {
                if Date().timeIntervalSince(started) >= delay { draw(text(progress.current)) }
                usleep(100_000)
            }
            done.signal()
        }.start()
    }

    private func finish() {
        lock.withLock { stopped = true }
        done.wait()
        if shown { draw(String(format: "%@: done in %.1f s", title, Date().timeIntervalSince(started)), newline: true) }
    }

    /// `snap restore: reading snapshot 4 45% (450000/1000001) 2.1 s`
    private func text(_ r: WorkProgress.Reading) -> String {
        var text = "\(title): \(r.step)"
        if r.total > 0 { text += " \(r.done * 100 / r.total)% (\(r.done)/\(r.total))" }
        return text + String(format: " %.1f s", Date().timeIntervalSince(started))
    }

    /// Rewrites the line, cut to the terminal's width so that it never wraps.
    private func draw(_ text: String, newline: Bool = false) {
        var size = winsize()
        let width = ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 1 ? Int(size.ws_col) - 1 : 79
        let line = "\r\u{1b}[K" + String(text.prefix(width)) + (newline ? "\n" : "")
        FileHandle.standardError.write(Data(line.utf8))
        shown = true
    }
}

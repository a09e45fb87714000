import Foundation
import Logging

/// Writes `[2023-10-23 18:45:25.893] [info] message` lines on stderr, as bpftime's spdlog does.
public struct SpdlogStyleHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]

    public init(level: Logger.Level) { self.logLevel = level }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let text = "[\(Self.timestamp())] [\(Self.spdlogName(event.level))] \(TerminalText.escaped(event.message.description))\n"
        // Whatever stdout holds so far comes first, so both streams read in order in one file.
        // (`fflush(nil)` flushes every C stream: Swift 6 does not let `stdout`, a C global, be named.)
        fflush(nil)
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func spdlogName(_ level: Logger.Level) -> String {
        switch level {
        case .trace: "trace"
        case .debug: "debug"
        case .info, .notice: "info"
        case .warning: "warning"
        case .error: "error"
        case .critical: "critical"
        }
    }

    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var t = now.tv_sec
        var parts = tm()
        localtime_r(&t, &parts)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d.%03d",
                      parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, now.tv_nsec / 1_000_000)
    }

    /// spdlog's level names as `SPDLOG_LEVEL` takes them; `off` silences everything.
    public static func level(fromEnvironment value: String?) -> Logger.Level? {
        switch value?.lowercased() {
        case "trace": .trace
        case "debug": .debug
        case "warn", "warning": .warning
        case "err", "error": .error
        case "critical", "off": .critical
        default: .info
        }
    }
}

public enum BPFLog {
    /// Installs the handler once per process; the level comes from `SPDLOG_LEVEL` (default info).
    public static func bootstrap() {
        let level = SpdlogStyleHandler.level(fromEnvironment: ProcessInfo.processInfo.environment["SPDLOG_LEVEL"]) ?? .info
        let silent = ProcessInfo.processInfo.environment["SPDLOG_LEVEL"]?.lowercased() == "off"
        LoggingSystem.bootstrap { _ in
            silent ? SwiftLogNoOpLogHandler() : SpdlogStyleHandler(level: level) as LogHandler
        }
    }

    public static func logger(_ label: String) -> Logger { Logger(label: label) }
}

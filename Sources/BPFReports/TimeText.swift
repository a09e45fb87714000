import Foundation

/// Durations (`200ms`, `5s`, `10m`, `2h`, `7d`, `1w`, combined as `1h30m`) and points in time
/// (a duration ago, or `YYYY-MM-DD[ HH:MM[:SS]]` in UTC) as options take them, and times as
/// the history prints them: UTC with its zone, unless local time is asked for.
public enum TimeText {
    private static let units: [String: Double] = ["ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400]

    public static func duration(_ text: String) -> TimeInterval? {
        var total = 0.0, rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            let unit = rest.dropFirst(digits.count).prefix { $0.isLetter }
            guard let n = Double(digits), let scale = units[String(unit)] else { return nil }
            total += n * scale
            rest = rest.dropFirst(digits.count + unit.count)
        }
        return total
    }

    /// `text` ago, or the UTC date and time it spells.
    public static func pointInTime(_ text: String, now: Date = Date()) -> Date? {
        if let d = duration(text) { return now.addingTimeInterval(-d) }
        for format in ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd HH:mm", "yyyy-MM-dd"] {
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.timeZone = TimeZone(identifier: "UTC")
            f.dateFormat = format
            if let date = f.date(from: text) { return date }
        }
        return nil
    }

    /// `2026-11-30 16:40:01 UTC`, or in the local zone with its abbreviation.
    public static func format(_ date: Date, local: Bool = false) -> String {
        let t = brokenDown(date, local: local)
        let zone = local ? t.tm_zone.map { String(cString: $0) } ?? "" : "UTC"
        return "\(day(t)) \(clock(t)) \(zone)"
    }

    /// `2026-11-30T16:40:01Z`, as JSON gives times (ISO 8601, UTC, whole seconds).
    public static func iso(_ date: Date) -> String {
        let t = brokenDown(date, local: false)
        return "\(day(t))T\(clock(t))Z"
    }

    // The C library's broken-down time, not a DateFormatter: pages and listings print
    // thousands of times, and building a formatter costs more than the query behind them.
    private static func brokenDown(_ date: Date, local: Bool) -> tm {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down)), t = tm()
        _ = local ? localtime_r(&seconds, &t) : gmtime_r(&seconds, &t)
        return t
    }

    private static func day(_ t: tm) -> String {
        "\(padded(Int(t.tm_year) + 1900, 4))-\(padded(Int(t.tm_mon) + 1, 2))-\(padded(Int(t.tm_mday), 2))"
    }

    private static func clock(_ t: tm) -> String {
        "\(padded(Int(t.tm_hour), 2)):\(padded(Int(t.tm_min), 2)):\(padded(Int(t.tm_sec), 2))"
    }

    private static func padded(_ n: Int, _ width: Int) -> String {
        let digits = String(n)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

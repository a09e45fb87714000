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
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = local ? TimeZone.current : TimeZone(identifier: "UTC")
        // Foundation names UTC "GMT": the zone is written out for it.
        f.dateFormat = local ? "yyyy-MM-dd HH:mm:ss zzz" : "yyyy-MM-dd HH:mm:ss 'UTC'"
        return f.string(from: date)
    }
}

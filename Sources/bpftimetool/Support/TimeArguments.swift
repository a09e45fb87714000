import ArgumentParser
import BPFReports
import Foundation

/// An option value that is a duration.
struct DurationArgument: ExpressibleByArgument {
    var seconds: TimeInterval
    init(seconds: TimeInterval) { self.seconds = seconds }
    init?(argument: String) {
        guard let s = TimeText.duration(argument) else { return nil }
        seconds = s
    }
    var defaultValueDescription: String { "\(seconds.formatted())s" }
}

/// An option value that is a point in time.
struct TimeArgument: ExpressibleByArgument {
    var date: Date
    init?(argument: String) {
        guard let d = TimeText.pointInTime(argument) else { return nil }
        date = d
    }
}

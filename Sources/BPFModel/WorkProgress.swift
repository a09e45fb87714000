import Foundation

/// How far a long operation has got, for a program that shows it (the command line shows it on
/// a terminal): the libraries count the units of work they do (map entries read or written,
/// handlers) into `WorkProgress.current` when there is one, and do nothing otherwise. Safe to
/// read from another thread while the work counts.
public final class WorkProgress: @unchecked Sendable {
    /// What a display shows: the step, and units done of the units the step has.
    public struct Reading: Equatable, Sendable {
        public var step: String
        public var done: Int
        public var total: Int
    }

    private let lock = NSLock()
    private var reading = Reading(step: "", done: 0, total: 0)

    public init() {}

    public var current: Reading { lock.withLock { reading } }

    /// Starts a step of `total` units.
    public func begin(_ step: String, total: Int) {
        lock.withLock { reading = Reading(step: step, done: 0, total: max(total, 0)) }
    }

    /// Counts `units` more done in the current step.
    public func advance(_ units: Int) {
        lock.withLock { reading.done = min(reading.done + units, reading.total) }
    }

    /// Counts the step done up to `units` (a part that counted finer may have got there already).
    public func reach(_ units: Int) {
        lock.withLock { reading.done = min(max(reading.done, units), reading.total) }
    }

    private static let slot = NSLock()
    nonisolated(unsafe) private static var installed: WorkProgress?

    /// The progress the work of this process counts into; nil (the default): nothing counts.
    public static var current: WorkProgress? {
        get { slot.withLock { installed } }
        set { slot.withLock { installed = newValue } }
    }
}

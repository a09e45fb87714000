import ArgumentParser
import BPFSegment

/// `--shm NAME` on every command that touches the segment.
struct SegmentOptions: ParsableArguments {
    static var defaultName: String { SegmentConfiguration.fromEnvironment().name }

    @Option(name: .customLong("shm"), help: "Shared-memory segment name (default: $BPFTIME_GLOBAL_SHM_NAME or \(defaultName)).")
    var name: String?

    var configuration: SegmentConfiguration { SegmentConfiguration.fromEnvironment(name: name) }

    func open() throws -> Segment { try Segment.open(name: configuration.name) }
    func openOrCreate() throws -> Segment { try Segment.openOrCreate(configuration) }
}

extension SegmentOptions {
    /// Runs `body` on the segment, creating it first if it does not exist; a segment created
    /// here is removed again if `body` fails, so a failed import leaves nothing behind.
    func withSegmentCreatingIfNeeded<T>(_ body: (Segment) throws -> T) throws -> T {
        if let existing = try? open() { return try body(existing) }
        let created = try Segment.create(configuration)
        do {
            return try body(created)
        } catch {
            try? Segment.remove(name: configuration.name)
            throw error
        }
    }
}

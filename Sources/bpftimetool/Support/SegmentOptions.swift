import ArgumentParser
import BPFSegment
import BPFState

/// `--shm NAME` on every command that touches the segment.
struct SegmentOptions: ParsableArguments {
    static var defaultName: String { SegmentConfiguration.fromEnvironment().name }

    @Option(name: .customLong("shm"), help: "Shared-memory segment name (default: $BPFTIME_GLOBAL_SHM_NAME or \(defaultName)).")
    var name: String?

    var configuration: SegmentConfiguration { SegmentConfiguration.fromEnvironment(name: name) }

    func open() throws -> Segment { try Segment.open(name: configuration.name) }
    /// The use cases on this segment.
    var state: RuntimeState { RuntimeState(configuration: configuration) }
}

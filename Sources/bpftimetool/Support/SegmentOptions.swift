import ArgumentParser
import BPFInterchange
import BPFSegment
import BPFState

/// `--shm NAME` on every command that touches the segment.
struct SegmentOptions: ParsableArguments {
    static var defaultName: String { SegmentConfiguration.environmentName }

    @Option(name: .customLong("shm"), help: "Shared-memory segment name (default: $BPFTIME_GLOBAL_SHM_NAME or \(defaultName)).")
    var name: String?

    @Flag(name: .customLong("allow-other-owner"), help: "Use (or remove) a segment that belongs to another user.")
    var allowOtherOwner = false

    func configuration() throws -> SegmentConfiguration { try SegmentConfiguration.fromEnvironment(name: name) }

    func open() throws -> Segment { try Segment.open(name: configuration().name, allowingOtherOwner: allowOtherOwner) }
    func openOrCreate() throws -> Segment { try Segment.openOrCreate(configuration()) }
    /// The use cases on this segment.
    func state() throws -> RuntimeState { RuntimeState(configuration: try configuration()) }
}

extension SegmentOptions {
    /// A JSON document to import, bounded by what a segment of the configured size (or of
    /// the existing segment's size) can hold.
    func readDocument(_ path: String) throws -> [UInt8] {
        let bytes = try max(configuration().sizeBytes, (try? open().status().sizeBytes) ?? 0)
        return try FileIO.read(path, limit: BPFTimeJSON.maxDocumentBytes(segmentBytes: bytes), what: "a document for a \(bytes >> 20) MiB segment")
    }
}

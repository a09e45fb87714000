import ArgumentParser
import BPFInterchange
import BPFSegment

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
}

extension SegmentOptions {
    /// A JSON document to import, bounded by what a segment of the configured size (or of
    /// the existing segment's size) can hold.
    func readDocument(_ path: String) throws -> [UInt8] {
        let bytes = try max(configuration().sizeBytes, (try? open().status().sizeBytes) ?? 0)
        return try FileIO.read(path, limit: BPFTimeJSON.maxDocumentBytes(segmentBytes: bytes), what: "a document for a \(bytes >> 20) MiB segment")
    }

    /// Runs `body` on the segment, creating it first if it does not exist; a segment created
    /// here is removed again if `body` fails, so a failed import leaves nothing behind.
    func withSegmentCreatingIfNeeded<T>(_ body: (Segment) throws -> T) throws -> T {
        let configuration = try configuration()
        let existing: Segment
        do { existing = try open() } catch SegmentError.missing {
            let created = try Segment.create(configuration)
            do {
                return try body(created)
            } catch {
                try? Segment.remove(name: configuration.name)
                throw error
            }
        }
        return try body(existing)
    }
}

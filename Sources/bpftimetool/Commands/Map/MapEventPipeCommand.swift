import ArgumentParser
import BPFModel
import BPFReports
import BPFSegment
import Glibc

/// `map event-pipe`: records of a ringbuf map as they are submitted, like `bpftool map event_pipe`.
struct MapEventPipeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "event-pipe",
        abstract: "Print a ringbuf map's records as they arrive (consuming them), until interrupted.")

    @Argument(help: "The ringbuf map's fd.") var fd: Int
    @OptionGroup var output: JSONOptions
    @Option(help: "Stop after this many records.") var count: Int?
    @Option(name: .customLong("poll-ms"), help: "How long to wait between polls of an empty ring (default 10).") var pollMilliseconds = 10
    @OptionGroup var segment: SegmentOptions

    func run() throws {
        guard count.map({ $0 > 0 }) ?? true, pollMilliseconds > 0 else { throw ToolError("--count and --poll-ms must be positive") }
        setvbuf(stdout, nil, _IOLBF, 0)
        let map = try segment.open().map(at: fd)
        guard map.kind == .ringbuf else {
            throw ToolError("map \(fd) is a \(map.kind?.rawValue ?? "non-ringbuf") map: event-pipe reads ringbuf maps (this runtime keeps no perf_event_array records)")
        }
        var printed = 0
        while count.map({ printed < $0 }) ?? true {
            let records = try map.ringbufRecords(limit: count.map { $0 - printed } ?? .max, consume: true)
            for record in records {
                // One object per record, on one line unless -p: {"size": N, "data": "<hex>"}.
                if output.enabled { output.print(.object([("size", .int(record.count)), ("data", .string(Hex.encode(record)))])) } else { print(Hex.encode(record)) }
            }
            printed += records.count
            if records.isEmpty { usleep(useconds_t(pollMilliseconds * 1000)) }
        }
    }
}

import BPFJSON
import ArgumentParser
import BPFModel
import BPFReports
import BPFSegment
import Glibc

/// `map event-pipe`: records of a ringbuf or perf_event_array map as they are submitted, like
/// `bpftool map event_pipe`.
struct MapEventPipeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "event-pipe",
        abstract: "Print a ringbuf or perf_event_array map's records as they arrive (consuming them), until interrupted.")

    @Argument(help: "The ringbuf or perf_event_array map's fd.") var fd: Int
    @OptionGroup var output: JSONOptions
    @Option(help: "Stop after this many records.") var count: Int?
    @Option(name: .customLong("poll-ms"), help: "How long to wait between polls of an empty ring (default 10).") var pollMilliseconds = 10
    @OptionGroup var segment: SegmentOptions

    func run() throws {
        guard count.map({ $0 > 0 }) ?? true, pollMilliseconds > 0 else { throw ToolError("--count and --poll-ms must be positive") }
        let map = try segment.open().map(at: fd)
        guard map.kind == .ringbuf || map.kind == .perfEventArray else {
            throw ToolError("map \(fd) is a \(map.kind?.rawValue ?? "non-ringbuf") map: event-pipe reads ringbuf and perf_event_array maps")
        }
        var printed = 0
        while count.map({ printed < $0 }) ?? true {
            let limit = count.map { $0 - printed } ?? .max
            let records: [(cpu: Int?, record: [UInt8])] = map.kind == .ringbuf
                ? try map.ringbufRecords(limit: limit, consume: true).map { (nil, $0) }
                : try map.perfEventRecords(limit: limit, consume: true).map { ($0.cpu, $0.record) }
            for (cpu, record) in records {
                // One object per record, on one line unless -p: {"size": N, "data": "<hex>"}, and a
                // perf_event_array's CPU ("cpu": N first; "cpu N: <hex>" as text).
                let fields: [(String, JSONText)] = [("size", .int(record.count)), ("data", .string(Hex.encode(record)))]
                if output.enabled {
                    output.print(.object((cpu.map { [("cpu", JSONText.int($0))] } ?? []) + fields))
                } else {
                    print((cpu.map { "cpu \($0): " } ?? "") + Hex.encode(record))
                }
            }
            printed += records.count
            // Each batch reaches a pipe reader as it arrives, not when stdout's buffer fills.
            if records.isEmpty { usleep(useconds_t(pollMilliseconds * 1000)) } else { fflush(nil) }
        }
    }
}

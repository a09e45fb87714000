import ArgumentParser
import BPFReports
import BPFSegment

/// bpftool's iteration verbs and the queue/stack read: `map getnext`, `map peek` (`map push` and
/// `map pop` change the map, so they are recorded changes beside `update` in MapCommand).
extension MapCommand {
    struct GetNext: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "getnext", abstract: "Print the key after KEY (the first key without one), as bpf_map_get_next_key.")
        @Argument(help: "The map's fd.") var fd: Int
        @Argument(help: "The key to start after, in hex.") var key: String?
        @OptionGroup var segment: SegmentOptions

        func run() throws {
            let map = try segment.open().map(at: fd)
            let start = try key.map { try MapEntryFormat.parseHex($0, expected: map.keySize, what: "key") }
            guard let next = try map.nextKey(after: start) else {
                throw ToolError(key == nil ? "map \(fd) is empty" : "map \(fd): no key after \(key!)")
            }
            print("key: \(MapEntryFormat.single(next))")
        }
    }

    struct Peek: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the value a pop would take from a queue or stack, leaving it there.")
        @Argument(help: "The map's fd.") var fd: Int
        @OptionGroup var segment: SegmentOptions

        func run() throws { try printValue(taken: { try $0.peek() }, fd: fd, segment: segment) }
    }
}

/// Prints the value `take` gets from queue or stack `fd`, or fails when there is none.
private func printValue(taken take: (SegmentMap) throws -> [UInt8]?, fd: Int, segment: SegmentOptions) throws {
    guard let value = try take(segment.open().map(at: fd)) else { throw ToolError("map \(fd) is empty") }
    print("value: \(MapEntryFormat.single(value))")
}

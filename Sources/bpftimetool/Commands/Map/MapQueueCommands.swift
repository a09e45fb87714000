import ArgumentParser
import BPFModel
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
        @OptionGroup var text: EntryText
        @OptionGroup var output: JSONOptions
        @OptionGroup var segment: SegmentOptions

        func run() throws {
            let map = try segment.open().map(at: fd)
            let start = try key.map { try text.key($0, of: map) }
            guard let next = try map.nextKey(after: start) else {
                throw ToolError(key == nil ? "map \(fd) is empty" : "map \(fd): no key after \(key!)")
            }
            if output.enabled {
                output.print(.object([("key", start.map { .string(Hex.encode($0)) } ?? .null), ("next_key", .string(Hex.encode(next)))]))
            } else {
                print("key: \(MapEntryFormat.single(next))")
            }
        }
    }

    struct Peek: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the value a pop would take from a queue or stack, leaving it there.")
        @Argument(help: "The map's fd.") var fd: Int
        @OptionGroup var output: JSONOptions
        @OptionGroup var segment: SegmentOptions

        func run() throws {
            guard let value = try segment.open().map(at: fd).peek() else { throw ToolError("map \(fd) is empty") }
            printValue(value, output)
        }
    }
}

/// A queue's or stack's value, as `peek` and `pop` print it.
func printValue(_ value: [UInt8], _ output: JSONOptions) {
    if output.enabled { output.print(.object([("value", .string(Hex.encode(value)))])) } else { print("value: \(MapEntryFormat.single(value))") }
}

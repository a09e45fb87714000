import ArgumentParser
import BPFModel
import BPFReports
import BPFSegment

struct MapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map", abstract: "Read and write a map's entries.",
        discussion: "Keys and values are hex bytes as stored (little-endian), with or without spaces and an optional 0x: 2a000000, \"2a 00 00 00\", 0x2a000000.",
        subcommands: [Dump.self, Get.self, Update.self, Delete.self, GetNext.self, Peek.self, Push.self, Pop.self, MapEventPipeCommand.self])

    struct Dump: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every entry of a map.")
        @Argument(help: "The map's fd.") var fd: Int
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var segment: SegmentOptions

        func run() throws {
            let contents = try segment.open().map(at: fd).contents()
            if json {
                print(MapEntryFormat.json(contents).rendered())
            } else {
                for line in MapEntryFormat.lines(contents) { print(line) }
                print("\(contents.count) entries")
            }
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the value of one key.")
        @Argument(help: "The map's fd.") var fd: Int
        @Argument(help: "The key, in hex (little-endian bytes as stored).") var key: String
        @OptionGroup var segment: SegmentOptions

        func run() throws {
            let map = try segment.open().map(at: fd)
            let keyBytes = try MapEntryFormat.parseHex(key, expected: map.keySize, what: "key")
            guard let value = try map.lookup(key: keyBytes) else { throw ToolError("map \(fd): key \(key) not found") }
            print(MapEntryFormat.describe(value, valueSize: map.valueSize))
        }
    }

    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set the value of one key.")
        @OptionGroup var change: MapChange
        @Argument(help: "The key, in hex.") var key: String
        @Argument(help: "The value, in hex (for per-CPU maps, every CPU's value one after another).") var value: String
        @Option(help: "any (create or replace), noexist (create only) or exist (replace only).") var flags: UpdateFlag = .any

        func run() throws {
            try change.run("update fd \(change.fd) key \(key)") { map in
                let keyBytes = try MapEntryFormat.parseHex(key, expected: map.keySize, what: "key")
                let valueBytes = try MapEntryFormat.parseHex(value, expected: map.userValueSize, what: "value")
                try map.update(key: keyBytes, value: valueBytes, flags: flags.rawValue)
            }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete one key.")
        @OptionGroup var change: MapChange
        @Argument(help: "The key, in hex.") var key: String

        func run() throws {
            try change.run("delete fd \(change.fd) key \(key)") { map in
                try map.delete(key: MapEntryFormat.parseHex(key, expected: map.keySize, what: "key"))
            }
        }
    }

    struct Push: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Push a value onto a queue or stack map.", aliases: ["enqueue"])
        @OptionGroup var change: MapChange
        @Argument(help: "The value, in hex.") var value: String
        @Flag(help: "When full, drop the oldest value instead of failing (BPF_EXIST).") var overwrite = false

        func run() throws {
            try change.run("push fd \(change.fd)") { map in
                try map.push(value: MapEntryFormat.parseHex(value, expected: map.valueSize, what: "value"),
                             flags: overwrite ? UpdateFlag.exist.rawValue : 0)
            }
        }
    }

    struct Pop: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take and print the next value of a queue (oldest) or stack (newest).", aliases: ["dequeue"])
        @OptionGroup var change: MapChange

        func run() throws {
            try change.run("pop fd \(change.fd)", show: { print($0) }) { map in
                guard let value = try map.pop() else { throw ToolError("map \(change.fd) is empty") }
                return "value: \(MapEntryFormat.single(value))"
            }
        }
    }
}

/// The map a changing `map` subcommand works on, and where its change is recorded.
struct MapChange: ParsableArguments {
    @Argument(help: "The map's fd.") var fd: Int
    @OptionGroup var segment: SegmentOptions
    @OptionGroup var record: RecordOptions
    @OptionGroup var store: StoreOptions

    /// Runs `body` on the map as one recorded change (message `map WHAT`), shows its result,
    /// then reports the recording.
    func run<T>(_ what: String, show: (T) -> Void = { _ in }, _ body: (SegmentMap) throws -> T) throws {
        let done = try segment.state().changeMap(fd, recording: record.recording(into: store), message: "map \(what)", body)
        show(done.value)
        try RecordOptions.report(done.record)
    }
}

enum UpdateFlag: UInt64, ExpressibleByArgument, CaseIterable {
    case any = 0, noexist = 1, exist = 2
    init?(argument: String) {
        switch argument.lowercased() {
        case "any", "bpf_any", "0": self = .any
        case "noexist", "bpf_noexist", "1": self = .noexist
        case "exist", "bpf_exist", "2": self = .exist
        default: return nil
        }
    }
}

extension MapEntryFormat {
    /// Hex bytes as stored, with or without spaces between them (bpftool's `01 00 00 00`).
    static func parseHex(_ text: String, expected: Int, what: String) throws -> [UInt8] {
        let compact = text.filter { !$0.isWhitespace }
        let digits = compact.hasPrefix("0x") ? String(compact.dropFirst(2)) : compact
        guard let bytes = Hex.decode(digits) else { throw ToolError("\(what) \(text): not hex (two digits per byte)") }
        guard bytes.count == expected else { throw ToolError("\(what) \(text): \(bytes.count) bytes, the map takes \(expected)") }
        return bytes
    }

    static func lines(_ c: MapContents) -> [String] {
        (0 ..< c.count).map { i in
            let value = describe(c.value(at: i), valueSize: c.valueSize)
            return c.keySize == 0 ? "value: \(value)" : "key: \(single(c.key(at: i)))  value: \(value)"
        }
    }
}

import ArgumentParser
import BPFModel
import BPFReports
import BPFSegment
import BPFState

struct MapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map", abstract: "Read and write a map's entries.",
        discussion: "Keys and values are hex bytes as stored (little-endian), with or without spaces and an optional 0x: 2a000000, \"2a 00 00 00\", 0x2a000000; with --int, integers (42, 0x2a) stored little-endian in the map's sizes.",
        subcommands: [Dump.self, Get.self, Update.self, Delete.self, GetNext.self, Peek.self, Push.self, Pop.self,
                      Create.self, Freeze.self, MapEventPipeCommand.self])

    struct Dump: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every entry of a map.")
        @Argument(help: "The map's fd.") var fd: Int
        @OptionGroup var output: JSONOptions
        @OptionGroup var segment: SegmentOptions

        func run() throws {
            let map = try segment.open().map(at: fd)
            switch map.kind {
            case .ringbuf?: throw ToolError("map \(fd) is a ringbuf: read its records with `bpftimetool map event-pipe \(fd)`")
            case .perfEventArray?: throw ToolError("map \(fd) is a perf_event_array: read its records with `bpftimetool map event-pipe \(fd)`")
            default: break
            }
            let contents = try map.contents()
            if output.enabled {
                output.print(MapEntryFormat.json(contents))
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
        @OptionGroup var text: EntryText
        @OptionGroup var output: JSONOptions
        @OptionGroup var segment: SegmentOptions

        func run() throws {
            let map = try segment.open().map(at: fd)
            let keyBytes = try text.key(key, of: map)
            guard let value = try map.lookup(key: keyBytes) else { throw ToolError("map \(fd): key \(key) not found") }
            if output.enabled {
                output.print(MapEntryFormat.entry(key: keyBytes, values: value, valueSize: map.valueSize, perCPU: map.valuesPerEntry > 1))
            } else {
                print(MapEntryFormat.describe(value, valueSize: map.valueSize))
            }
        }
    }

    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set the value of one key.")
        @OptionGroup var change: MapChange
        @Argument(help: "The key, in hex.") var key: String
        @Argument(help: "The value, in hex (for per-CPU maps, every CPU's value one after another).") var value: String
        @Option(help: "any (create or replace), noexist (create only) or exist (replace only).") var flags: UpdateFlag = .any
        @OptionGroup var text: EntryText

        func run() throws {
            try change.run("update fd \(change.fd) key \(key)") { map in
                try map.update(key: text.key(key, of: map), value: text.value(value, of: map), flags: flags.rawValue)
            }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete one key.")
        @OptionGroup var change: MapChange
        @Argument(help: "The key, in hex.") var key: String
        @OptionGroup var text: EntryText

        func run() throws {
            try change.run("delete fd \(change.fd) key \(key)") { map in
                try map.delete(key: text.key(key, of: map))
            }
        }
    }

    struct Push: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Push a value onto a queue or stack map.", aliases: ["enqueue"])
        @OptionGroup var change: MapChange
        @Argument(help: "The value, in hex.") var value: String
        @Flag(help: "When full, drop the oldest value instead of failing (BPF_EXIST).") var overwrite = false
        @OptionGroup var text: EntryText

        func run() throws {
            try change.run("push fd \(change.fd)") { map in
                try map.push(value: text.value(value, of: map, oneCPU: true),
                             flags: overwrite ? UpdateFlag.exist.rawValue : 0)
            }
        }
    }

    struct Pop: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take and print the next value of a queue (oldest) or stack (newest).", aliases: ["dequeue"])
        @OptionGroup var change: MapChange
        @OptionGroup var output: JSONOptions

        func run() throws {
            try change.run("pop fd \(change.fd)", show: { printValue($0, output) }) { map in
                guard let value = try map.pop() else { throw ToolError("map \(change.fd) is empty") }
                return value
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
    func run<T>(_ what: String, show: (T) -> Void = { _ in }, _ body: (ChangingMap) throws -> T) throws {
        let done = try segment.state().changeMap(fd, recording: try record.recording(into: store), message: "map \(what)", body)
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
    static func lines(_ c: MapContents) -> [String] {
        (0 ..< c.count).map { i in
            let value = describe(c.value(at: i), valueSize: c.valueSize)
            return c.keySize == 0 ? "value: \(value)" : "key: \(single(c.key(at: i)))  value: \(value)"
        }
    }
}

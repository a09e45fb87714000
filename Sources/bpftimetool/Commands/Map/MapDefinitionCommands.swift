import ArgumentParser
import BPFLogging
import BPFModel
import BPFReports
import BPFState

/// bpftool's `map create` and `map freeze`: making a map, and closing it to userspace writes.
extension MapCommand {
    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an empty map at an fd, as `bpftool map create` (its pin path is our fd).",
            discussion: "Recorded in the history as `map create fd N`, like every change.")

        @Argument(help: "The fd to create the map at.") var fd: Int
        @Option(help: "The map type: hash, array, prog_array, lru_hash, queue, ringbuf... or its number.") var type: MapTypeArgument
        @Option(help: "Key size in bytes (0 for queue, stack and ringbuf).") var key: UInt32
        @Option(help: "Value size in bytes (0 for ringbuf).") var value: UInt32
        @Option(help: "Maximum number of entries (a ringbuf's byte size).") var entries: UInt32
        @Option(help: "The map's name.") var name: String
        @Option(help: "map_flags, e.g. 128 for BPF_F_RDONLY_PROG (decimal or 0x hex).") var flags: FlagsArgument = FlagsArgument(value: 0)
        @OptionGroup var segment: SegmentOptions
        @OptionGroup var record: RecordOptions
        @OptionGroup var store: StoreOptions

        func run() throws {
            let attributes = MapAttributes(mapType: type.value, keySize: key, valueSize: value, maxEntries: entries, flags: flags.value)
            try LoadCommand.load(HandlerRecord(fd: fd, handler: .map(MapHandler(name: name, attributes: attributes))), into: segment,
                                 recording: record, store: store, message: "map create fd \(fd)",
                                 logged: "created \(HandlerDescription.mapTypeName(type.value)) map \(TerminalText.escaped(name)) at fd \(fd)")
        }
    }

    struct Freeze: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Refuse every later update, delete, push or pop of the map from this tool, as BPF_MAP_FREEZE.",
            discussion: """
            As in the kernel, the freeze binds userspace only: programs keep writing the map (the kernel refuses \
            program writes to BPF_F_RDONLY_PROG maps in its verifier, which this VM does not replicate). No command \
            undoes it; snapshots record it (a restore puts the map back frozen or not, as recorded), and an export \
            with data writes "frozen": true beside the map's "data" (bpftime has no such field and ignores it).
            """)
        @OptionGroup var change: MapChange

        func run() throws {
            try change.run("freeze fd \(change.fd)") { try $0.freeze() }
        }
    }
}

/// A map type by bpftool's name (`hash`, `prog_array`, ...) or by number.
struct MapTypeArgument: ExpressibleByArgument {
    var value: UInt32

    init?(argument: String) {
        if let number = UInt32(argument) {
            value = number
        } else if let kind = MapKind.allCases.first(where: { HandlerDescription.mapTypeName($0.linuxType) == argument.lowercased() }) {
            value = kind.linuxType
        } else {
            return nil
        }
    }
}

/// A flags word, decimal or 0x-prefixed hex.
struct FlagsArgument: ExpressibleByArgument {
    var value: UInt64

    init(value: UInt64) { self.value = value }

    init?(argument: String) {
        let parsed = argument.lowercased().hasPrefix("0x") ? UInt64(argument.dropFirst(2), radix: 16) : UInt64(argument)
        guard let parsed else { return nil }
        value = parsed
    }
}

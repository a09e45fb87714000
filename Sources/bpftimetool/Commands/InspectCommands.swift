import BPFJSON
import ArgumentParser
import BPFLogging
import BPFModel
import BPFReports
import BPFSegment
import BPFSnapshots
import BPFState

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Show the segment's handlers.")

    @OptionGroup var output: JSONOptions
    @OptionGroup var segment: SegmentOptions

    func run() throws {
        let shm = try segment.open()
        let records = try shm.records(includeContents: false)
        let counts = Dictionary(uniqueKeysWithValues: records.compactMap { r -> (Int, Int)? in
            guard case .map = r.handler, let map = try? shm.map(at: r.fd) else { return nil }
            return (r.fd, map.count)
        })
        let listing = HandlerListing(records: records) { counts[$0.fd] }
        if output.enabled { output.print(listing.structuredJSON) } else { print(listing.table.rendered()) }
    }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the segment's size, use and generation.")

    @OptionGroup var output: JSONOptions
    @OptionGroup var segment: SegmentOptions
    @OptionGroup var store: StoreOptions

    func run() throws {
        let s = try segment.open().status()
        let recording = !Recording.isDisabled(), history = try store.location
        let fields: [(String, JSONText)] = [
            ("name", .string(s.name)), ("size_bytes", .int(s.sizeBytes)), ("used_bytes", .int(s.usedBytes)),
            ("handlers", .int(s.handlerCount)), ("max_handlers", .int(s.maxHandlers)),
            ("generation", .uint(s.generation)), ("table_generation", .uint(s.tableGeneration)), ("cpus", .int(s.cpuCount)),
            ("history", .string(history.description)), ("recording", .bool(recording)),
            ("last_snapshot", lastSnapshot(of: s.name)),
        ]
        if output.enabled {
            output.print(JSONText.object(fields))
        } else {
            for (key, value) in fields { print("\(key.replacingOccurrences(of: "_", with: " ")): \(value.rendered())") }
        }
    }
}

extension StatusCommand {
    /// The segment's newest snapshot (id, time, message or command); null when the history
    /// has none or does not exist. Read-only: nothing is created.
    private func lastSnapshot(of segment: String) -> JSONText {
        do {
            guard let info = try store.openForReading().latest(segment: segment) else { return .null }
            let what = info.message ?? info.provenance?.command ?? ""
            return output.enabled ? SnapshotFormat.json(info) : .string("\(info.id) at \(TimeText.format(info.createdAt, local: false)) (\(what))")
        } catch SnapshotError.noHistory {
            return .null
        } catch {
            BPFLog.logger("status").warning("cannot read the history: \(error)")
            return .null
        }
    }
}

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check the segment's header, allocator, handler table and every map's structure.")

    @OptionGroup var output: JSONOptions
    @OptionGroup var segment: SegmentOptions

    func run() throws {
        let shm = try segment.open()
        let problems = shm.check()
        if output.enabled {
            output.print(.object([("segment", .string(shm.name)), ("consistent", .bool(problems.isEmpty)),
                                  ("problems", .array(problems.map(JSONText.string)))]))
        } else if problems.isEmpty {
            print("segment \(shm.name): consistent")
        } else {
            for p in problems { print(TerminalText.escaped(p)) }
        }
        if !problems.isEmpty { throw ToolError("segment \(shm.name): \(problems.count) inconsistencies found") }
    }
}

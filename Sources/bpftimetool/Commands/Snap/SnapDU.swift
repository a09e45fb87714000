import BPFJSON
import ArgumentParser
import BPFReports
import BPFSnapshots
import Foundation

struct SnapDU: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "du",
        abstract: "What takes the history's space: the file, each segment (unique and shared map entries), each map.")

    @OptionGroup var output: JSONOptions
    @OptionGroup var store: StoreOptions

    func run() throws {
        let u = try store.withHistory { try $0.usage() }
        if output.enabled {
            output.print(JSONText.object([
                ("\(u.space.kind)_bytes", .int(u.space.bytes)), ("free_bytes", u.space.freeBytes.map { JSONText.int($0) } ?? .null),
                ("segments", .array(u.segments.map { .object([("name", .string($0.name)), ("snapshots", .int($0.snapshots)),
                                                              ("unique_bytes", .int($0.uniqueBytes)), ("shared_bytes", .int($0.sharedBytes))]) })),
                ("maps", .array(u.maps.map { .object([("segment", .string($0.segment)), ("fd", .int($0.fd)), ("name", .string($0.name)),
                                                      ("contents", .int($0.contents)), ("entry_bytes", .int($0.entryBytes))]) })),
            ]))
            return
        }
        if let free = u.space.freeBytes {
            print("\(u.space.kind): \(Self.bytes(u.space.bytes)) (\(Self.bytes(free)) free; `snap gc` gives free space back)")
        } else {
            print("\(u.space.kind): \(Self.bytes(u.space.bytes)) (`snap gc` deletes unused content and lets the server reuse its space)")
        }
        var segments = Table(header: ["SEGMENT", "SNAPSHOTS", "UNIQUE", "SHARED"])
        for s in u.segments { segments.add([s.name, String(s.snapshots), Self.bytes(s.uniqueBytes), Self.bytes(s.sharedBytes)]) }
        print(segments.rendered())
        var maps = Table(header: ["SEGMENT", "FD", "MAP", "CONTENTS", "ENTRY BYTES"])
        for m in u.maps { maps.add([m.segment, String(m.fd), m.name, String(m.contents), Self.bytes(m.entryBytes)]) }
        print(maps.rendered())
    }

    static func bytes(_ n: Int) -> String {
        n < 1024 ? "\(n) B" : n < 1 << 20 ? String(format: "%.1f KiB", Double(n) / 1024) : String(format: "%.1f MiB", Double(n) / 1_048_576)
    }
}

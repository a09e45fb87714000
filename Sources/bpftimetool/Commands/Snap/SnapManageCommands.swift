import ArgumentParser
import BPFSnapshots

struct SnapRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete a snapshot (its content goes at the next gc).")
    @Argument(help: "Snapshot id or tag.") var snapshot: String
    @OptionGroup var store: StoreOptions

    func run() throws {
        try store.withHistory { db in try db.remove(db.resolve(snapshot)) }
    }
}

struct SnapTag: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tag", abstract: "Name a snapshot (`tag ID TAG`), move a tag (`-f`), or delete one (`tag -d TAG`).")
    @Argument(help: "Snapshot id or tag, then the new tag; with -d only the tag.") var arguments: [String]
    @Flag(name: .shortAndLong, help: "Move the tag if it names another snapshot.") var force = false
    @Flag(name: .customShort("d"), help: "Delete the tag.") var delete = false
    @OptionGroup var store: StoreOptions

    func validate() throws {
        if delete, arguments.count != 1 { throw ValidationError("-d takes exactly one tag") }
        if !delete, arguments.count != 2 { throw ValidationError("expected a snapshot id or tag, then the new tag") }
    }

    func run() throws {
        try store.withHistory { db in
            if delete { return try db.untag(arguments[0]) }
            try db.tag(db.resolve(arguments[0]), arguments[1], move: force)
        }
    }
}

struct SnapGC: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gc", abstract: "Drop stored content that no snapshot uses and give the space back to the file system.")
    @OptionGroup var store: StoreOptions

    func run() throws {
        // Printed once the progress line is gone from the terminal.
        let report = try ProgressLine.around("snap gc") {
            try store.withHistory { db in
                let before = try db.space()
                let dropped = try db.collectGarbage()
                try db.vacuum()
                let after = try db.space()
                return "dropped \(dropped.blobs) blobs and \(dropped.chunks) map chunks; \(after.kind) \(SnapDU.bytes(before.bytes)) → \(SnapDU.bytes(after.bytes)) (\(before.bytes) → \(after.bytes) bytes)"
            }
        }
        print(report)
    }
}

import BPFJSON
import BPFLogging
import BPFModel
import BPFSnapshots
import BPFVM
import Foundation

/// Prints a `SnapshotDiff` for people (optionally coloured) or as JSON.
public struct DiffRenderer {
    public let colored: Bool

    public init(colored: Bool) { self.colored = colored }

    public static func terminalWantsColor() -> Bool {
        isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
    }

    private func paint(_ text: String, _ code: String) -> String { colored ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
    private func added(_ t: String) -> String { paint(t, "32") }
    private func removed(_ t: String) -> String { paint(t, "31") }
    private func changed(_ t: String) -> String { paint(t, "33") }

    private static func title(_ r: HandlerRecord) -> String {
        "fd \(r.fd) \(r.handler.kind.rawValue)" + (r.handler.name.map { " \"\(TerminalText.escaped($0))\"" } ?? "")
    }

    public func text(_ diff: SnapshotDiff) -> String {
        var out = ""
        for r in diff.removed { out += removed("- \(Self.title(r))") + Self.details(r) + "\n" }
        for r in diff.added { out += added("+ \(Self.title(r))") + Self.details(r) + "\n" }
        for c in diff.changed {
            out += changed("~ \(Self.title(c.new))") + "\n"
            for a in c.attributeChanges { out += TerminalText.escaped("    \(a.name): \(a.old) → \(a.new)") + "\n" }
            out += instructions(c)
            out += entries(c.mapChanges)
        }
        return out
    }

    /// An added or removed handler's attributes, after its title.
    private static func details(_ r: HandlerRecord) -> String {
        let text = HandlerDescription.details(r.handler, entries: r.handler.mapEntryCount)
        return text.isEmpty ? "" : "  " + text
    }

    /// Changed instructions with one kept line of context on each side, disassembled.
    private func instructions(_ c: HandlerChange) -> String {
        guard let (oldProgram, newProgram) = Self.programs(c),
              c.instructionChanges.contains(where: { $0.operation != .kept }) else { return "" }
        let edits = c.instructionChanges
        var out = "    instructions:\n"
        var skipped = false
        for (i, e) in edits.enumerated() {
            let near = edits[max(0, i - 1) ... min(edits.count - 1, i + 1)].contains { $0.operation != .kept }
            guard e.operation != .kept || near else { skipped = true; continue }
            if skipped { out += "      ...\n"; skipped = false }
            switch e.operation {
            case .kept: out += "        \(e.newIndex ?? 0): \(Self.text(newProgram, e.newIndex, e.bytes))\n"
            case .deleted: out += removed("      - \(e.oldIndex ?? 0): \(Self.text(oldProgram, e.oldIndex, e.bytes))") + "\n"
            case .inserted: out += added("      + \(e.newIndex ?? 0): \(Self.text(newProgram, e.newIndex, e.bytes))") + "\n"
            }
        }
        return out
    }

    /// Both sides' programs, decoded for disassembly (`nil` in one whose bytecode does not decode).
    private static func programs(_ c: HandlerChange) -> (Program?, Program?)? {
        guard case .program(let old) = c.old.handler, case .program(let new) = c.new.handler else { return nil }
        return (try? Program(bytecode: old.bytecode), try? Program(bytecode: new.bytecode))
    }

    private static func text(_ program: Program?, _ index: Int?, _ bytes: [UInt8]) -> String {
        guard let program, let index else { return Hex.encode(bytes) }
        return Disassembler.text(of: program, at: index)
    }

    private func entries(_ m: MapContentsDiff) -> String {
        guard !m.isEmpty else { return "" }
        var out = "    entries: +\(m.addedCount) -\(m.removedCount) ~\(m.changedCount)\n"
        for e in m.entries {
            let key = Hex.encode(e.key)
            switch (e.old, e.new) {
            case (nil, let v?): out += added("      + \(key): \(Hex.encode(v))") + "\n"
            case (let v?, nil): out += removed("      - \(key): \(Hex.encode(v))") + "\n"
            case (let o?, let n?): out += changed("      ~ \(key): \(Hex.encode(o)) → \(Hex.encode(n))") + "\n"
            default: break
            }
        }
        return out
    }

    /// One line per differing fd with what changed in it, then the totals (like `git diff --stat`).
    public func stat(_ diff: SnapshotDiff) -> String {
        var lines: [(fd: Int, title: String, text: String)] = []
        for r in diff.removed { lines.append((r.fd, Self.title(r), removed("removed"))) }
        for r in diff.added { lines.append((r.fd, Self.title(r), added("added"))) }
        for c in diff.changed {
            var parts: [String] = []
            if !c.attributeChanges.isEmpty { parts.append("\(c.attributeChanges.count) attribute\(c.attributeChanges.count == 1 ? "" : "s")") }
            let edits = c.instructionChanges.filter { $0.operation != .kept }
            if !edits.isEmpty {
                let inserted = edits.filter { $0.operation == .inserted }.count
                parts.append("instructions " + added("+\(inserted)") + " " + removed("-\(edits.count - inserted)"))
            }
            let m = c.mapChanges
            if !m.isEmpty { parts.append("entries " + added("+\(m.addedCount)") + " " + removed("-\(m.removedCount)") + " " + changed("~\(m.changedCount)")) }
            lines.append((c.fd, Self.title(c.new), parts.joined(separator: ", ")))
        }
        lines.sort { $0.fd < $1.fd }
        let width = lines.map(\.title.count).max() ?? 0
        let entries = diff.changed.reduce((0, 0, 0)) { t, c in
            (t.0 + c.mapChanges.addedCount, t.1 + c.mapChanges.removedCount, t.2 + c.mapChanges.changedCount)
        }
        return lines.map { " \($0.title.padding(toLength: width, withPad: " ", startingAt: 0)) | \($0.text)\n" }.joined()
            + " handlers: \(diff.added.count) added, \(diff.removed.count) removed, \(diff.changed.count) changed; "
            + "map entries: \(entries.0) added, \(entries.1) removed, \(entries.2) changed"
    }

    /// The differing fds, one per line.
    public func names(_ diff: SnapshotDiff) -> String {
        (diff.removed.map(\.fd) + diff.added.map(\.fd) + diff.changed.map(\.fd)).sorted().map { "\($0)\n" }.joined()
    }

    public func json(_ diff: SnapshotDiff) -> JSONText {
        func handler(_ r: HandlerRecord) -> JSONText {
            .object([("fd", .int(r.fd)), ("kind", .string(r.handler.kind.rawValue)), ("name", r.handler.name.map(JSONText.string) ?? .null),
                     ("details", .string(HandlerDescription.details(r.handler, entries: r.handler.mapEntryCount)))])
        }
        return .object([
            ("equal", .bool(diff.isEmpty)),
            ("added", .array(diff.added.map(handler))),
            ("removed", .array(diff.removed.map(handler))),
            ("changed", .array(diff.changed.map { c in
                .object([
                    ("fd", .int(c.fd)), ("kind", .string(c.new.handler.kind.rawValue)),
                    ("attributes", .array(c.attributeChanges.map { .object([("name", .string($0.name)), ("old", .string($0.old)), ("new", .string($0.new))]) })),
                    ("instructions", .array(Self.programs(c).map { old, new in
                        c.instructionChanges.filter { $0.operation != .kept }.map { e in
                            let program = e.operation == .deleted ? old : new, index = e.operation == .deleted ? e.oldIndex : e.newIndex
                            return .object([("op", .string(e.operation.rawValue)), ("old_index", e.oldIndex.map { .int($0) } ?? .null),
                                            ("new_index", e.newIndex.map { .int($0) } ?? .null), ("hex", .string(Hex.encode(e.bytes))),
                                            ("asm", .string(Self.text(program, index, e.bytes)))])
                        }
                    } ?? [])),
                    ("entries", .object([
                        ("added", .int(c.mapChanges.addedCount)), ("removed", .int(c.mapChanges.removedCount)),
                        ("changed", .int(c.mapChanges.changedCount)),
                        ("details", .array(c.mapChanges.entries.map { e in
                            .object([("key", .string(Hex.encode(e.key))),
                                     ("old", e.old.map { .string(Hex.encode($0)) } ?? .null),
                                     ("new", e.new.map { .string(Hex.encode($0)) } ?? .null)])
                        })),
                    ])),
                ])
            })),
        ])
    }
}

import BPFModel

/// How two handler tables differ, matched by fd.
public struct SnapshotDiff: Equatable, Sendable {
    /// Handlers only in the second table, by fd.
    public var added: [HandlerRecord]
    /// Handlers only in the first table, by fd.
    public var removed: [HandlerRecord]
    /// Handlers at the same fd that differ, by fd.
    public var changed: [HandlerChange]

    public init(added: [HandlerRecord] = [], removed: [HandlerRecord] = [], changed: [HandlerChange] = []) {
        self.added = added
        self.removed = removed
        self.changed = changed
    }

    public var isEmpty: Bool { added.isEmpty && removed.isEmpty && changed.isEmpty }
}

/// One fd whose handler differs, with what differs in it.
public struct HandlerChange: Equatable, Sendable {
    public var fd: Int
    public var old: HandlerRecord
    public var new: HandlerRecord
    /// Attributes (kind, name, then the stored attribute fields) whose value differs, rendered as text.
    public var attributeChanges: [(name: String, old: String, new: String)]
    /// When both are programs with different bytecode: the edit script from old to new, one
    /// 8-byte slot per edit, kept slots included for context. Empty when the bytecode is equal.
    public var instructionChanges: [InstructionEdit]
    /// When both are maps with known contents: their entry changes.
    public var mapChanges: MapContentsDiff

    public init(fd: Int, old: HandlerRecord, new: HandlerRecord,
                attributeChanges: [(name: String, old: String, new: String)],
                instructionChanges: [InstructionEdit], mapChanges: MapContentsDiff) {
        self.fd = fd
        self.old = old
        self.new = new
        self.attributeChanges = attributeChanges
        self.instructionChanges = instructionChanges
        self.mapChanges = mapChanges
    }

    public static func == (a: HandlerChange, b: HandlerChange) -> Bool {
        a.fd == b.fd && a.old == b.old && a.new == b.new && a.instructionChanges == b.instructionChanges
            && a.mapChanges == b.mapChanges
            && a.attributeChanges.map { [$0.name, $0.old, $0.new] } == b.attributeChanges.map { [$0.name, $0.old, $0.new] }
    }
}

public enum SnapshotDiffer {
    /// Compares two handler tables. `mapDetail: .counts` counts map entry changes without
    /// keeping them (for summaries of huge maps).
    public static func diff(_ a: [HandlerRecord], _ b: [HandlerRecord],
                            mapDetail: MapContentsDiff.Detail = .entries) -> SnapshotDiff {
        let old = Dictionary(a.map { ($0.fd, $0) }, uniquingKeysWith: { first, _ in first })
        let new = Dictionary(b.map { ($0.fd, $0) }, uniquingKeysWith: { first, _ in first })
        var diff = SnapshotDiff()
        for fd in Set(old.keys).union(new.keys).sorted() {
            switch (old[fd], new[fd]) {
            case (let o?, nil): diff.removed.append(o)
            case (nil, let n?): diff.added.append(n)
            case (let o?, let n?) where o != n:
                let c = change(o, n, mapChanges: mapDiff(o.handler, n.handler, detail: mapDetail))
                if !(c.attributeChanges.isEmpty && c.mapChanges.isEmpty && sameUpToEntryOrder(o.handler, n.handler)) {
                    diff.changed.append(c)
                }
            default: break
            }
        }
        return diff
    }

    /// The change between two handlers at one fd, given their map entry changes.
    static func change(_ old: HandlerRecord, _ new: HandlerRecord, mapChanges: MapContentsDiff) -> HandlerChange {
        var instructions: [InstructionEdit] = []
        if case .program(let p) = old.handler, case .program(let q) = new.handler, p.bytecode != q.bytecode {
            instructions = InstructionDiff.edits(p.bytecode, q.bytecode)
        }
        return HandlerChange(fd: new.fd, old: old, new: new,
                             attributeChanges: AttributeDiff.changes(old.handler, new.handler),
                             instructionChanges: instructions, mapChanges: mapChanges)
    }

    /// Maps whose entries are the same but listed in another order (the store gives them back
    /// sorted by key) are the same map.
    private static func sameUpToEntryOrder(_ old: Handler, _ new: Handler) -> Bool {
        guard case .map(let m) = old, case .map(let n) = new else { return false }
        switch (m.contents, n.contents) {
        case (nil, nil): return true
        case (let a?, let b?):
            return (a.keySize, a.valueSize, a.valuesPerEntry, a.count) == (b.keySize, b.valueSize, b.valuesPerEntry, b.count)
        default: return false
        }
    }

    private static func mapDiff(_ old: Handler, _ new: Handler, detail: MapContentsDiff.Detail) -> MapContentsDiff {
        guard case .map(let m) = old, case .map(let n) = new, let a = m.contents, let b = n.contents, a != b else {
            return MapContentsDiff()
        }
        return MapContentsDiff.between(SortedEntries(a), SortedEntries(b), detail: detail)
    }
}

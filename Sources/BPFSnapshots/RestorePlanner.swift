import BPFModel

/// What a restore does to the segment: fds that differ from the snapshot, nothing else.
public struct RestorePlan: Equatable, Sendable {
    /// Handlers to create at fds now free, in apply order (what they refer to comes first).
    public var create: [HandlerRecord]
    /// Handlers to put over a different handler at the same fd, in apply order.
    public var replace: [HandlerRecord]
    /// Fds to free, referrers first.
    public var remove: [Int]
    /// Programs of a selective restore left attached to fds that will hold nothing (allowed
    /// only with `allowingDanglingAttachments`): program fd to those fds.
    public var danglingAttachments: [Int: [Int]] = [:]

    public init(create: [HandlerRecord] = [], replace: [HandlerRecord] = [], remove: [Int] = []) {
        self.create = create
        self.replace = replace
        self.remove = remove
    }

    public var isEmpty: Bool { create.isEmpty && replace.isEmpty && remove.isEmpty }
}

/// Turns the difference between a snapshot and the segment into the changes that restore it.
public enum RestorePlanner {
    /// Plans bringing `current` to `target`, comparing them as `SnapshotDiffer` does (maps by
    /// content, not by the order their entries are listed in).
    public static func plan(target: [HandlerRecord], current: [HandlerRecord], onlyFDs: Set<Int>?,
                            withDependencies: Bool, allowingDanglingAttachments: Bool = false) throws -> RestorePlan {
        let changed = SnapshotDiffer.diff(current, target, mapDetail: .counts).changed.map(\.fd)
        return try plan(target: target, current: current, changed: Set(changed), onlyFDs: onlyFDs, withDependencies: withDependencies,
                        allowingDanglingAttachments: allowingDanglingAttachments)
    }

    /// Plans bringing `current` to `target`, where `changed` are the fds on both sides whose
    /// handlers differ (from a diff): wholly (`onlyFDs == nil`) or only at the given fds (an
    /// fd absent from the target is removed). A selective restore after which a restored
    /// handler refers to a missing fd, or a kept handler to a removed one, is refused naming
    /// them, unless `withDependencies` also restores what restored handlers refer to
    /// (transitively) from the target. A program's attachments are the exception, as in
    /// `import`: with `allowingDanglingAttachments` they may dangle (listed in the plan).
    public static func plan(target: [HandlerRecord], current: [HandlerRecord], changed: Set<Int>, onlyFDs: Set<Int>?,
                            withDependencies: Bool, allowingDanglingAttachments: Bool = false) throws -> RestorePlan {
        let wanted = Dictionary(target.map { ($0.fd, $0) }, uniquingKeysWith: { first, _ in first })
        let now = Dictionary(current.map { ($0.fd, $0) }, uniquingKeysWith: { first, _ in first })
        var selection = onlyFDs ?? Set(wanted.keys).union(now.keys)
        let unknown = selection.filter { wanted[$0] == nil && now[$0] == nil }
        guard unknown.isEmpty else { throw SnapshotError.unknownFDs(unknown.sorted()) }

        if onlyFDs != nil, withDependencies {
            var pending = Array(selection)
            while let fd = pending.popLast() {
                for ref in wanted[fd]?.handler.referencedFDs ?? [] where wanted[ref] != nil && selection.insert(ref).inserted {
                    pending.append(ref)
                }
            }
        }

        // The handler table as it would be after the restore.
        var result = now
        for fd in selection { result[fd] = wanted[fd] }
        var plan = RestorePlan()
        if onlyFDs != nil {
            var missing: [Int: [Int]] = [:]
            for (fd, record) in result {
                let absent = record.handler.referencedFDs.filter { result[$0] == nil && (selection.contains(fd) || selection.contains($0)) }
                guard !absent.isEmpty else { continue }
                if record.handler.kind == .program {
                    plan.danglingAttachments[fd] = Array(Set(absent)).sorted()
                } else {
                    missing[fd] = Array(Set(absent)).sorted()
                }
            }
            guard missing.isEmpty else { throw SnapshotError.missingDependencies(missing) }
            guard plan.danglingAttachments.isEmpty || allowingDanglingAttachments else {
                throw SnapshotError.danglingAttachments(plan.danglingAttachments)
            }
        }

        for fd in selection.sorted() {
            switch (now[fd], wanted[fd]) {
            case (nil, let w?): plan.create.append(w)
            case (_?, let w?) where changed.contains(fd): plan.replace.append(w)
            case (_?, nil): plan.remove.append(fd)
            default: break
            }
        }
        let applyOrder = { (a: HandlerRecord, b: HandlerRecord) in
            (a.handler.kind.applyOrder, a.fd) < (b.handler.kind.applyOrder, b.fd)
        }
        plan.create.sort(by: applyOrder)
        plan.replace.sort(by: applyOrder)
        plan.remove.sort { a, b in
            let (x, y) = (now[a]?.handler.kind.applyOrder ?? 0, now[b]?.handler.kind.applyOrder ?? 0)
            return x != y ? x > y : a < b
        }
        return plan
    }
}

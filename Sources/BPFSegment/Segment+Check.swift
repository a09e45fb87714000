import BPFModel

/// `bpftimetool check`: every structure's invariants, with a precise message per problem.
extension Segment {
    /// Problems found in the header, the undo journal, the allocator, the handler table and
    /// every map; empty when the segment is consistent.
    public func check() -> [String] {
        let layout = header.layoutProblems(mappedBytes: shm.size)
        guard layout.isEmpty else { return layout }
        do {
            return try locked { checkLocked() }
        } catch {
            return ["cannot lock the segment: \(error)"]
        }
    }

    private func checkLocked() -> [String] {
        var problems = journal.problems()
        if header.intent != 0 { problems.append("a table change (intent at \(header.intent)) is pending outside a mutation") }
        let blocks: [Allocator.Block]
        switch allocator.walk() {
        case .success(let walked): blocks = walked
        case .failure(let error): return problems + [error.text]
        }
        problems += allocator.problems(blocks)
        let used = Set(blocks.filter(\.used).map(\.payload))
        var owners: [Int: String] = [:]
        func claim(_ payload: Int, _ owner: String) {
            if !used.contains(payload) {
                problems.append("\(owner) points at \(payload), which is not an allocated block")
            } else if let other = owners.updateValue(owner, forKey: payload) {
                problems.append("\(owner) and \(other) share the block at \(payload)")
            }
        }
        var count = 0
        for fd in 0..<header.maxHandlers where table.slot(fd) != 0 {
            count += 1
            claim(table.slot(fd), "fd \(fd)")
            guard used.contains(table.slot(fd)) else { continue }
            do {
                guard let (handler, record) = try storedHandler(fd) else { continue }
                // A program's attach_fds may dangle, as in bpftime (`apply(allowingDanglingAttachments:)`); a link's ends may not.
                let required = if case .link = handler { handler.referencedFDs } else { [Int]() }
                for target in required where target < 0 || target >= header.maxHandlers || table.slot(target) == 0 {
                    problems.append("fd \(fd) (\(handler.kind.rawValue)) refers to fd \(target), which holds no handler")
                }
                guard case .map(let map) = handler else { continue }
                if record.storage != 0 { claim(record.storage, "storage of map fd \(fd)") }
                let needsStorage = map.attributes.kind != nil // every kind this build knows keeps a storage block
                if needsStorage, record.storage == 0 { problems.append("map fd \(fd) has no storage") }
                if needsStorage, record.storage != 0, let store = try mapStore(fd: fd, record: record, attributes: map.attributes) {
                    problems += store.problems().map { "map fd \(fd) (\(map.name)): \($0)" }
                }
            } catch {
                problems.append("\(error)")
            }
        }
        if count != header.handlerCount { problems.append("handler count is \(header.handlerCount), the table holds \(count)") }
        for payload in used.subtracting(owners.keys).sorted().prefix(10) {
            problems.append("heap block at \(payload - Allocator.headerBytes) is allocated but nothing refers to it (leak)")
        }
        return problems
    }
}

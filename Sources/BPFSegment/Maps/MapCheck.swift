/// The structural invariants of a map's storage, for `Segment.check()`.
extension MapStore {
    func problems() -> [String] {
        switch layout.kind {
        case .hash, .percpuHash, .lruHash, .lruPercpuHash, .stackTrace: hashProblems()
        case .queue, .stack: sequenceProblems()
        case .ringbuf: ring.problems()
        case .perfEventArray: (0..<layout.cpus).flatMap { cpu in perfRing(cpu).problems().map { "CPU \(cpu)'s \($0)" } }
        case .array, .percpuArray, .progArray: []
        }
    }

    private func hashProblems() -> [String] {
        var problems: [String] = []
        let nextUnused = state(MapLayout.nextUnusedAt)
        guard nextUnused >= 1, nextUnused <= maxEntries + 1 else { return ["next unused entry \(nextUnused) is out of range"] }
        var live = Set<UInt32>()
        for bucket in 0..<layout.bucketCount {
            var index = buckets.u32(bucket * 4)
            while index != 0 {
                guard Int(index) < nextUnused else { problems.append("bucket \(bucket) reaches entry \(index), which was never allocated"); break }
                guard live.insert(index).inserted else { problems.append("entry \(index) is reached twice (chain cycle or cross-link)"); break }
                if bucketIndex(entry(index) + keyOffset) != bucket { problems.append("entry \(index) sits in bucket \(bucket), its key hashes elsewhere") }
                index = entry(index).u32(0)
            }
        }
        if live.count != count { problems.append("count is \(count), the buckets hold \(live.count) entries") }
        let flagged = (1..<UInt32(nextUnused)).filter(isLive)
        if flagged.count != live.count || Set(flagged) != live {
            problems.append("\(flagged.count) entries are flagged live, the buckets hold \(live.count)")
        }
        guard let free = freeList() else { return problems + ["free list is broken (cycle or out-of-range index)"] }
        let freeSet = Set(free)
        if !freeSet.isDisjoint(with: live) { problems.append("\(freeSet.intersection(live).count) entries are both live and free") }
        if free.contains(where: { Int($0) >= nextUnused }) { problems.append("free list holds never-allocated entries") }
        if live.count + free.count != nextUnused - 1 { problems.append("\(nextUnused - 1) entries allocated, \(live.count) live + \(free.count) free") }
        if isLRU {
            if let order = lruOrder() {
                if Set(order) != live || order.count != live.count { problems.append("LRU list (\(order.count) entries) differs from the live entries (\(live.count))") }
            } else {
                problems.append("LRU list is broken")
            }
        }
        return problems
    }
}

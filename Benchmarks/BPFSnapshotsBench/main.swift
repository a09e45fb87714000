import BPFModel
import BPFSnapshots
import Foundation

// Figures for Scripts/bench-snap.sh, one measurement per process so peak memory is its own:
//   BPFSnapshotsBench reference-sql FILE ROWS   the big map's rows as a sqlite3 script, ROWS per INSERT
//   BPFSnapshotsBench save DB base|one|all      save a state; prints seconds and used bytes
//   BPFSnapshotsBench diff DB A B               store diff; prints seconds, peak RSS, counts
//   BPFSnapshotsBench diff-live DB A base|one|all   store diff against a live state; same figures
//   BPFSnapshotsBench load DB ID                records(of:), a restore's read; prints seconds, handlers
//                                               and CPU seconds
//   BPFSnapshotsBench scattered DB N K          a fresh history of an N-entry map, then K scattered
//                                               values changed; prints bytes of both saves and seconds
//   BPFSnapshotsBench history DB ROUNDS K       the 1M state saved, then ROUNDS times with K more
//                                               scattered values changed; prints seconds per save and
//                                               bytes per save
//   BPFSnapshotsBench save-many DB COUNT        COUNT saves of a 20,000-entry map changing each
//                                               time (the tests run two at once, and kill one)
//   BPFSnapshotsBench serve-history DB COUNT EVERY  COUNT snapshots of the 1,000-handler state for
//                                               bench-serve.sh: entry 0 of fd 4 counts up in each,
//                                               the big map's `hotKey` every EVERY-th

let mapEntries = 1_000_000

/// 1,000 handlers: a 1M-entry hash map (4-byte keys, 8-byte values), 99 small array maps, 300
/// uprobes, 400 programs attached to them and 200 links. `variant` changes the big map: `one`
/// entry, or `all` of its values.
func state(_ variant: String) -> [HandlerRecord] {
    var records: [HandlerRecord] = []
    var big = MapContents(keySize: 4, valueSize: 8)
    big.keys.reserveCapacity(4 * mapEntries)
    big.values.reserveCapacity(8 * mapEntries)
    for i in 0..<mapEntries {
        // Keys in a scrambled order, as a hash table would list them.
        let key = UInt32(truncatingIfNeeded: i &* 2_654_435_761)
        var value = UInt64(i) &* 0x9e37_79b9_7f4a_7c15
        if variant == "all" || (variant == "one" && i == mapEntries / 2) { value = ~value }
        withUnsafeBytes(of: key.littleEndian) { big.keys += $0 }
        withUnsafeBytes(of: value.littleEndian) { big.values += $0 }
    }
    records.append(HandlerRecord(fd: 3, handler: .map(MapHandler(
        name: "big", attributes: MapAttributes(mapType: 1, keySize: 4, valueSize: 8, maxEntries: UInt32(mapEntries)),
        contents: big))))
    for m in 0..<99 {
        var small = MapContents(keySize: 4, valueSize: 8)
        for i in 0..<16 { small.append(key: withUnsafeBytes(of: UInt32(i).littleEndian, Array.init), value: [UInt8](repeating: UInt8(m), count: 8)) }
        records.append(HandlerRecord(fd: 4 + m, handler: .map(MapHandler(
            name: "small\(m)", attributes: MapAttributes(mapType: 2, keySize: 4, valueSize: 8, maxEntries: 16), contents: small))))
    }
    for e in 0..<300 {
        records.append(HandlerRecord(fd: 103 + e, handler: .perfEvent(PerfEventHandler(
            event: .uprobe(.init(moduleName: "/usr/lib/libc.so.6", offset: UInt64(0x1000 + e * 16))), enabled: true))))
    }
    for p in 0..<400 {
        let bytecode = (0..<100).flatMap { i -> [UInt8] in [0xb7, 0, 0, 0] + withUnsafeBytes(of: UInt32(p * 100 + i).littleEndian, Array.init) }
            + [0x95, 0, 0, 0, 0, 0, 0, 0]
        records.append(HandlerRecord(fd: 403 + p, handler: .program(ProgramHandler(
            name: "prog\(p)", type: 2, bytecode: bytecode, attachments: [.init(targetFD: 103 + p % 300)]))))
    }
    for l in 0..<200 {
        records.append(HandlerRecord(fd: 803 + l, handler: .link(LinkHandler(programFD: 403 + l, targetFD: 103 + l))))
    }
    return records
}

/// The big map's key that `history` changes: the middle one.
let hotIndex = mapEntries / 2

/// Changes `k` values of `map` at indices drawn by a seeded generator (the same for one `seed`).
func scatter(_ map: inout MapContents, _ k: Int, seed: UInt64) {
    var state = seed &* 0x9e37_79b9_7f4a_7c15
    for _ in 0..<k {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let i = Int((state >> 33) % UInt64(map.count))
        map.values[i * map.entryStride] &+= 1
    }
}

func withBigMap(_ records: [HandlerRecord], _ contents: MapContents) -> [HandlerRecord] {
    guard case .map(var m) = records[0].handler else { return records }
    m.contents = contents
    var changed = records
    changed[0].handler = .map(m)
    return changed
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// CPU time this process has used: on a loaded machine, steadier than wall time.
func cpuSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

func peakMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

let args = CommandLine.arguments
do {
    switch (args.count, args.count > 1 ? args[1] : "") {
    case (4, "reference-sql"):
        guard case .map(let m) = state("base")[0].handler, let big = m.contents, let rows = Int(args[3]), rows > 0 else { exit(2) }
        var sql = "PRAGMA journal_mode = WAL;\nPRAGMA synchronous = NORMAL;\n"
        sql += "CREATE TABLE kv (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;\nBEGIN;\n"
        // In key order, the order SQLite inserts fastest (and the one the store writes in).
        let order = (0..<big.count).sorted { big.key(at: $0).lexicographicallyPrecedes(big.key(at: $1)) }
        for (i, entry) in order.enumerated() {
            sql += i % rows == 0 ? "INSERT INTO kv VALUES " : ","
            sql += "(x'\(Hex.encode(big.key(at: entry)))',x'\(Hex.encode(big.value(at: entry)))')"
            if i % rows == rows - 1 || i == big.count - 1 { sql += ";\n" }
        }
        sql += "COMMIT;\n"
        try sql.write(toFile: args[2], atomically: false, encoding: .utf8)
    case (4, "save"):
        let records = state(args[3])
        let store = try SnapshotStore(path: args[2])
        let time = try seconds {
            _ = try store.save(records, meta: SnapshotMeta(segmentName: "bench", host: "bench", generation: 1, message: args[3]))
        }
        print(String(format: "%.3f %d", time, try store.usedBytes()))
    case (4, "save-many"):
        let store = try SnapshotStore(path: args[2])
        guard let count = Int(args[3]) else { exit(2) }
        for round in 0..<count {
            var map = MapContents(keySize: 4, valueSize: 8)
            for i in 0..<20_000 {
                map.append(key: withUnsafeBytes(of: UInt32(i).littleEndian, Array.init),
                           value: withUnsafeBytes(of: UInt64(i * round).littleEndian, Array.init))
            }
            let records = [HandlerRecord(fd: 3, handler: .map(MapHandler(
                name: "m", attributes: MapAttributes(mapType: 1, keySize: 4, valueSize: 8, maxEntries: 20_000), contents: map)))]
            _ = try store.save(records, meta: SnapshotMeta(segmentName: "many", host: "pid \(getpid())", generation: UInt64(round)))
        }
    case (5, "scattered"):
        guard let n = Int(args[3]), let k = Int(args[4]), n > 0 else { exit(2) }
        let store = try SnapshotStore(path: args[2])
        var map = MapContents(keySize: 4, valueSize: 8)
        for i in 0..<n {
            map.append(key: withUnsafeBytes(of: UInt32(truncatingIfNeeded: i &* 2_654_435_761).littleEndian, Array.init),
                       value: withUnsafeBytes(of: UInt64(i).littleEndian, Array.init))
        }
        func record(_ contents: MapContents) -> [HandlerRecord] {
            [HandlerRecord(fd: 3, handler: .map(MapHandler(
                name: "counters", attributes: MapAttributes(mapType: 1, keySize: 4, valueSize: 8, maxEntries: UInt32(n)), contents: contents)))]
        }
        let meta = SnapshotMeta(segmentName: "bench", host: "bench", generation: 1)
        _ = try store.save(record(map), meta: meta)
        let first = try store.usedBytes()
        scatter(&map, k, seed: 1)
        let time = try seconds { _ = try store.save(record(map), meta: meta) }
        print(String(format: "%d %d %.3f", first, try store.usedBytes(), time))
    case (5, "history"):
        guard let rounds = Int(args[3]), let k = Int(args[4]) else { exit(2) }
        let store = try SnapshotStore(path: args[2])
        var records = state("base")
        guard case .map(let m) = records[0].handler, var map = m.contents, rounds > 1 else { exit(2) }
        var before = 0, total = 0.0
        for round in 0..<rounds {
            scatter(&map, k, seed: UInt64(round + 1))
            records = withBigMap(records, map)
            let time = try seconds {
                _ = try store.save(records, meta: SnapshotMeta(segmentName: "bench", host: "bench", generation: UInt64(round)))
            }
            // The first save stores everything; the figures are those of the 99 saves after it.
            if round == 0 { before = try store.usedBytes() } else { total += time }
        }
        let later = Double(rounds - 1)
        print(String(format: "%.3f %.0f", total / later, Double(try store.usedBytes() - before) / later))
    case (5, "serve-history"):
        let store = try SnapshotStore(path: args[2])
        guard let count = Int(args[3]), let every = Int(args[4]), every > 0 else { exit(2) }
        var records = state("base")
        for round in 0..<count {
            if case .map(var big) = records[0].handler, round % every == 0 {
                withUnsafeBytes(of: UInt64(round).littleEndian) { big.contents!.values.replaceSubrange(8 * hotIndex ..< 8 * hotIndex + 8, with: $0) }
                records[0].handler = .map(big)
            }
            if case .map(var counter) = records[1].handler {
                withUnsafeBytes(of: UInt64(round).littleEndian) { counter.contents!.values.replaceSubrange(0 ..< 8, with: $0) }
                records[1].handler = .map(counter)
            }
            _ = try store.save(records, meta: SnapshotMeta(segmentName: "bench", host: "bench", generation: UInt64(round),
                                                           message: "round \(round)", tags: round == 0 ? ["first"] : []))
        }
    case (4, "load"):
        let store = try SnapshotStore(path: args[2])
        guard let id = Int64(args[3]) else { exit(2) }
        var count = 0
        let cpuBefore = cpuSeconds()
        let time = try seconds { count = try store.records(of: id).count }
        print(String(format: "%.3f %d %.3f", time, count, cpuSeconds() - cpuBefore))
    case (5, "diff"), (5, "diff-live"):
        let store = try SnapshotStore(path: args[2])
        guard let a = Int64(args[3]) else { exit(2) }
        var diff = SnapshotDiff()
        let time: Double
        if args[1] == "diff-live" {
            let live = state(args[4])
            time = try seconds { diff = try store.diff(a, live: live) }
        } else {
            guard let b = Int64(args[4]) else { exit(2) }
            time = try seconds { diff = try store.diff(a, b) }
        }
        let entries = diff.changed.reduce(0) { $0 + $1.mapChanges.addedCount + $1.mapChanges.removedCount + $1.mapChanges.changedCount }
        print(String(format: "%.3f %.1f %d %d", time, peakMiB(), diff.changed.count, entries))
    default:
        FileHandle.standardError.write(Data("usage: BPFSnapshotsBench reference-sql FILE ROWS | save DB base|one|all | diff DB A B | diff-live DB A VARIANT | load DB ID | save-many DB COUNT | scattered DB N K | history DB ROUNDS K | serve-history DB COUNT EVERY\n".utf8))
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("BPFSnapshotsBench: \(error)\n".utf8))
    exit(1)
}

// Measures the segment's map hot paths and bulk transfers in a release build, each beside
// a reference measured in the same run. Run through Scripts/bench-segment.sh.
import BPFModel
import BPFSegment
import Glibc

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// Best of `rounds` timings of `body`, in seconds.
func best(_ rounds: Int = 3, _ body: () -> Void) -> Double {
    (0..<rounds).map { _ in
        let start = now()
        body()
        return now() - start
    }.min() ?? 0
}

func line(_ label: String, _ value: String, _ note: String = "") {
    print(label.padding(toLength: 52, withPad: " ", startingAt: 0) + value + (note.isEmpty ? "" : "   " + note))
}

func fmt(_ x: Double, _ digits: Int = 1) -> String {
    let scale = pow(10.0, Double(digits))
    let rounded = (x * scale).rounded() / scale
    return "\(rounded)"
}

let entries = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 1_000_000
let name = "bpftimetool_bench_\(getpid())"
let configuration = SegmentConfiguration(name: name, sizeBytes: max(64, (entries * 100) >> 20) << 20, maxHandlers: 1024)
try? Segment.remove(name: name)
let segment = try Segment.create(configuration)
defer { try? Segment.remove(name: name) }

// Keys 0..<n in a random order (what a probe would see), values derived from keys.
var rng = SystemRandomNumberGenerator()
let keys = (0..<UInt32(entries)).shuffled(using: &rng)
var contents = MapContents(keySize: 4, valueSize: 8)
contents.keys.reserveCapacity(entries * 4)
contents.values.reserveCapacity(entries * 8)
for k in 0..<UInt32(entries) {
    withUnsafeBytes(of: k) { contents.keys.append(contentsOf: $0) }
    withUnsafeBytes(of: UInt64(k) &* 3) { contents.values.append(contentsOf: $0) }
}
let attributes = MapAttributes(mapType: 1, keySize: 4, valueSize: 8, maxEntries: UInt32(entries))
let record = HandlerRecord(fd: 3, handler: .map(MapHandler(name: "bench", attributes: attributes, contents: contents)))

print("segment benchmark: \(entries) entries, 4-byte keys, 8-byte values, \(segment.status().cpuCount) CPUs, release build")

// Bulk transfers: apply (import) and records (export) of the whole map.
let applySeconds = best {
    do { try segment.apply([record], replaceExisting: true) } catch { fatalError("apply failed: \(error)") }
}
// The globals the timed loops write are exempt from dynamic exclusivity checks, like the
// libraries' hot fields: the figures are of the work, not of checks on this driver's globals.
@exclusivity(unchecked) var exported = 0
let recordsSeconds = best {
    do { exported = try segment.records(includeContents: true).count } catch { fatalError("records failed: \(error)") }
}
// References: the same entries into and out of a Swift Dictionary.
@exclusivity(unchecked) var table = [UInt32: UInt64]()
let fillSeconds = best {
    table = [UInt32: UInt64](minimumCapacity: entries)
    contents.keys.withUnsafeBytes { k in
        contents.values.withUnsafeBytes { v in
            for i in 0..<entries { table[k.load(fromByteOffset: i * 4, as: UInt32.self)] = v.load(fromByteOffset: i * 8, as: UInt64.self) }
        }
    }
}
let drainSeconds = best {
    var out = MapContents(keySize: 4, valueSize: 8)
    out.keys.reserveCapacity(entries * 4)
    out.values.reserveCapacity(entries * 8)
    for (k, v) in table {
        withUnsafeBytes(of: k) { out.keys.append(contentsOf: $0) }
        withUnsafeBytes(of: v) { out.values.append(contentsOf: $0) }
    }
    exported &+= out.count
}
line("apply (import) of the map", fmt(applySeconds * 1000) + " ms",
     "(filling a Swift Dictionary: \(fmt(fillSeconds * 1000)) ms, ratio \(fmt(applySeconds / fillSeconds, 2)))")
line("records(includeContents:) of the map", fmt(recordsSeconds * 1000) + " ms",
     "(Dictionary to MapContents: \(fmt(drainSeconds * 1000)) ms, ratio \(fmt(recordsSeconds / drainSeconds, 2)))")

// Hot paths through SegmentMap, against a Swift Dictionary of the same entries.
@exclusivity(unchecked) var sink: UInt64 = 0
let perOp = { (seconds: Double, count: Int) in seconds * 1e9 / Double(count) }

/// ns/op of lookups and updates on `map` for `keys`, and of a Dictionary holding the same keys.
/// On the main actor, like the rest of this program, since it adds into the global `sink`.
@MainActor func hotPaths(_ map: SegmentMap, _ keys: [UInt32]) -> (lookup: Double, update: Double, dictLookup: Double, dictUpdate: Double) {
    var reference = [UInt32: UInt64](minimumCapacity: keys.count)
    for k in keys { reference[k] = UInt64(k) &* 3 }
    let lookup = best {
        for var k in keys {
            if let v = map.lookup(&k) { sink &+= v.load(as: UInt64.self) }
        }
    }
    let update = best {
        for var k in keys {
            var v = UInt64(k) &+ 1
            sink &+= UInt64(bitPattern: Int64(map.update(&k, &v, flags: 0)))
        }
    }
    let dictLookup = best { for k in keys { sink &+= reference[k] ?? 0 } }
    let dictUpdate = best { for k in keys { reference[k] = UInt64(k) &+ 1 } }
    return (perOp(lookup, keys.count), perOp(update, keys.count), perOp(dictLookup, keys.count), perOp(dictUpdate, keys.count))
}

func report(_ label: String, _ r: (lookup: Double, update: Double, dictLookup: Double, dictUpdate: Double)) {
    line("hash lookup, \(label)", fmt(r.lookup) + " ns/op",
         "(Swift Dictionary: \(fmt(r.dictLookup)) ns/op, ratio \(fmt(r.lookup / r.dictLookup, 2)))")
    line("hash update BPF_ANY, \(label)", fmt(r.update) + " ns/op",
         "(Swift Dictionary: \(fmt(r.dictUpdate)) ns/op, ratio \(fmt(r.update / r.dictUpdate, 2)))")
}

let map = try segment.map(at: 3)
let oneByOne = hotPaths(map, keys)
report("random keys", oneByOne)

// The same random keys in one call each (`lookup(keys:values:found:)`, `update(keys:values:)`):
// the misses of successive keys overlap, which calls of one key each cannot do.
@MainActor func batchPaths(_ map: SegmentMap, _ keys: [UInt32]) -> (lookup: Double, update: Double) {
    var values = [UInt64](repeating: 0, count: keys.count), found = [Bool](repeating: false, count: keys.count)
    let newValues = keys.map { UInt64($0) &+ 2 }
    let lookup = best {
        keys.withUnsafeBytes { k in values.withUnsafeMutableBytes { v in found.withUnsafeMutableBufferPointer { f in
            sink &+= UInt64(map.lookup(keys: k, values: v, found: f))
        } } }
    }
    let update = best {
        keys.withUnsafeBytes { k in newValues.withUnsafeBytes { v in sink &+= UInt64(map.update(keys: k, values: v).written) } }
    }
    // The calls of one key each wrote key + 1 into every entry; the batch wrote key + 2.
    var probe = keys[0]
    guard !found.contains(false), zip(keys, values).allSatisfy({ UInt64($0) &+ 1 == $1 }),
          map.lookup(&probe)?.load(as: UInt64.self) == UInt64(probe) &+ 2 else { fatalError("a batch read or wrote wrong values") }
    return (perOp(lookup, keys.count), perOp(update, keys.count))
}
let batch = batchPaths(map, keys)
line("hash lookup, batch of random keys", fmt(batch.lookup) + " ns/op",
     "(a call per key: \(fmt(oneByOne.lookup)) ns/op, ratio \(fmt(batch.lookup / oneByOne.lookup, 2)))")
line("hash update BPF_ANY, batch of random keys", fmt(batch.update) + " ns/op",
     "(a call per key: \(fmt(oneByOne.update)) ns/op, ratio \(fmt(batch.update / oneByOne.update, 2)))")
report("keys in order", hotPaths(map, Array(0..<UInt32(entries))))

// The same operations on a map small enough to stay in cache: the CPU cost of the code path.
let small = 10_000
var smallContents = MapContents(keySize: 4, valueSize: 8)
for k in 0..<UInt32(small) { smallContents.append(key: withUnsafeBytes(of: k) { Array($0) }, value: [UInt8](repeating: 0, count: 8)) }
try segment.apply([HandlerRecord(fd: 5, handler: .map(MapHandler(name: "small", attributes: MapAttributes(mapType: 1, keySize: 4, valueSize: 8, maxEntries: UInt32(small)), contents: smallContents)))])
let smallKeys = (0..<UInt32(small)).shuffled(using: &rng)
report("10,000-entry map, random keys", hotPaths(try segment.map(at: 5), (0..<100).flatMap { _ in smallKeys }))

// The floor for a map this size under a lock: one dependent random read in a buffer of its
// storage's size (the lock's atomic instruction keeps successive operations from overlapping).
let storageBytes = segment.status().usedBytes
let buffer = UnsafeMutableRawPointer.allocate(byteCount: storageBytes, alignment: 64)
let lines = storageBytes / 64
var order = Array(0..<lines).shuffled(using: &rng)
for i in 0..<lines { buffer.storeBytes(of: order[i] * 64, toByteOffset: order[i == 0 ? lines - 1 : i - 1] * 64, as: Int.self) }
order = []
@exclusivity(unchecked) var at = 0
let chase = best { for _ in 0..<entries { at = buffer.load(fromByteOffset: at, as: Int.self) } }
sink &+= UInt64(at)
line("dependent random read in \(storageBytes >> 20) MiB", fmt(perOp(chase, entries)) + " ns/op", "(memory latency: the floor for one cache miss)")
// Reads whose addresses do not depend on each other overlap their misses, as independent
// lookups can: the floor for a lookup that costs one miss and little else.
let scatter = keys.map { Int($0) &* 2_654_435_761 % lines * 64 }
@exclusivity(unchecked) var total = 0
let scattered = best { for offset in scatter { total &+= buffer.load(fromByteOffset: offset, as: Int.self) } }
sink &+= UInt64(truncatingIfNeeded: total)
line("independent random reads in \(storageBytes >> 20) MiB", fmt(perOp(scattered, entries)) + " ns/op", "(misses overlapping: the floor for one miss per lookup)")

// The lock alone and a lock-free array lookup, for scale.
let arrayRecord = HandlerRecord(fd: 4, handler: .map(MapHandler(name: "array", attributes: MapAttributes(mapType: 2, keySize: 4, valueSize: 8, maxEntries: 1024))))
try segment.apply([arrayRecord])
let array = try segment.map(at: 4)
let arraySeconds = best {
    for k in keys {
        var index = k & 1023
        if let v = array.lookup(&index) { sink &+= v.load(as: UInt64.self) }
    }
}
line("array lookup (lock-free)", fmt(perOp(arraySeconds, entries)) + " ns/op")
@exclusivity(unchecked) var mutex = pthread_mutex_t()
var mutexAttributes = pthread_mutexattr_t()
pthread_mutexattr_init(&mutexAttributes)
pthread_mutexattr_setpshared(&mutexAttributes, Int32(PTHREAD_PROCESS_SHARED))
pthread_mutexattr_setrobust(&mutexAttributes, Int32(PTHREAD_MUTEX_ROBUST))
pthread_mutex_init(&mutex, &mutexAttributes)
let lockSeconds = best {
    for _ in 0..<entries {
        pthread_mutex_trylock(&mutex)
        pthread_mutex_unlock(&mutex)
    }
}
line("robust mutex lock+unlock alone", fmt(perOp(lockSeconds, entries)) + " ns/op")
let problems = segment.check()
print(problems.isEmpty ? "check: consistent" : "check: \(problems.count) problems: \(problems.prefix(3))")
if sink == 42 && exported == 0 { print("") } // keeps the measured work observable

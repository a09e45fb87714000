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
    print(label.padding(toLength: 44, withPad: " ", startingAt: 0) + value + (note.isEmpty ? "" : "   " + note))
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
var exported = 0
let recordsSeconds = best {
    do { exported = try segment.records(includeContents: true).count } catch { fatalError("records failed: \(error)") }
}
let copySeconds = best { exported &+= Array(contents.keys).count &+ Array(contents.values).count }
line("apply (import) of the map", fmt(applySeconds * 1000) + " ms")
line("records(includeContents:) of the map", fmt(recordsSeconds * 1000) + " ms", "(copying the same bytes as arrays: \(fmt(copySeconds * 1000)) ms)")

// Hot paths through SegmentMap, against a Swift Dictionary of the same entries.
let map = try segment.map(at: 3)
var reference = [UInt32: UInt64](minimumCapacity: entries)
for k in 0..<UInt32(entries) { reference[k] = UInt64(k) &* 3 }

var sink: UInt64 = 0
let lookupSeconds = best {
    for var k in keys {
        if let v = map.lookup(&k) { sink &+= v.load(as: UInt64.self) }
    }
}
let referenceLookupSeconds = best {
    for k in keys { sink &+= reference[k] ?? 0 }
}
let updateSeconds = best {
    for var k in keys {
        var v = UInt64(k) &+ 1
        sink &+= UInt64(bitPattern: Int64(map.update(&k, &v, flags: 0)))
    }
}
let referenceUpdateSeconds = best {
    for k in keys { reference[k] = UInt64(k) &+ 1 }
}
let sequentialSeconds = best {
    for var k in 0..<UInt32(entries) {
        if let v = map.lookup(&k) { sink &+= v.load(as: UInt64.self) }
    }
}
let perOp = { (seconds: Double) in seconds * 1e9 / Double(entries) }
line("hash lookup, random keys", fmt(perOp(lookupSeconds)) + " ns/op",
     "(Swift Dictionary: \(fmt(perOp(referenceLookupSeconds))) ns/op, ratio \(fmt(lookupSeconds / referenceLookupSeconds, 2)))")
line("hash update BPF_ANY, random keys", fmt(perOp(updateSeconds)) + " ns/op",
     "(Swift Dictionary: \(fmt(perOp(referenceUpdateSeconds))) ns/op, ratio \(fmt(updateSeconds / referenceUpdateSeconds, 2)))")
line("hash lookup, keys in order", fmt(perOp(sequentialSeconds)) + " ns/op")

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
line("array lookup (lock-free)", fmt(perOp(arraySeconds)) + " ns/op")
var mutex = pthread_mutex_t()
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
line("robust mutex lock+unlock alone", fmt(perOp(lockSeconds)) + " ns/op")
let problems = segment.check()
print(problems.isEmpty ? "check: consistent" : "check: \(problems.count) problems: \(problems.prefix(3))")
if sink == 42 && exported == 0 { print("") } // keeps the measured work observable

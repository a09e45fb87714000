// Benchmark for Scripts/bench-json.sh: synthesizes issue 2's document (10,000 handlers, one hash
// map of 1,000,000 entries with 4-byte keys and 8-byte values), exports it, imports it.
//
//   BPFInterchangeBench export <file>   write the document, print seconds and peak memory
//   BPFInterchangeBench import <file>   read and decode it, print seconds
#if canImport(Glibc)
// `@preconcurrency`: C's `stdout`/`stderr` are global vars Glibc does not mark for concurrency;
// this program uses them from its main thread only.
@preconcurrency import Glibc
#elseif canImport(Darwin)
@preconcurrency import Darwin
#endif
import BPFInterchange
import BPFModel

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func fail(_ message: String) -> Never {
    fputs("BPFInterchangeBench: \(message)\n", stderr)
    exit(1)
}

/// A `/proc/self/status` figure in KiB (Linux), e.g. "VmRSS" or "VmHWM".
func procStatus(_ field: String) -> Int? {
    guard let f = fopen("/proc/self/status", "r") else { return nil }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), f) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix(field + ":") {
            return Int(text.dropFirst(field.count + 1).filter(\.isNumber))
        }
    }
    return nil
}

/// Resets the peak-RSS mark (Linux `clear_refs` 5), so the export's own peak can be read after.
func resetPeakRSS() -> Bool {
    guard let f = fopen("/proc/self/clear_refs", "w") else { return false }
    defer { fclose(f) }
    return fputs("5", f) >= 0
}

func synthesize(handlers: Int, mapEntries: Int) -> [HandlerRecord] {
    var contents = MapContents(keySize: 4, valueSize: 8)
    contents.keys.reserveCapacity(mapEntries * 4)
    contents.values.reserveCapacity(mapEntries * 8)
    var seed: UInt64 = 0x1234_5678
    for i in 0..<mapEntries {
        // Keys in hash-table-like (unsorted) order, all distinct.
        let key = UInt32(truncatingIfNeeded: i &* 2_654_435_761)
        seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        withUnsafeBytes(of: key.littleEndian) { contents.keys.append(contentsOf: $0) }
        withUnsafeBytes(of: seed.littleEndian) { contents.values.append(contentsOf: $0) }
    }
    var records = [HandlerRecord(fd: 3, handler: .map(MapHandler(
        name: "big_hash", attributes: MapAttributes(mapType: 1, keySize: 4, valueSize: 8, maxEntries: UInt32(mapEntries)),
        contents: contents)))]
    let program: [UInt8] = (0..<32).flatMap { i -> [UInt8] in [0xb7, 0, 0, 0, UInt8(i), 0, 0, 0] } + [0x95, 0, 0, 0, 0, 0, 0, 0]
    var fd = 4
    // Groups of a program, the uprobe it is attached to, their link and a small array map.
    while records.count < handlers {
        let group: [Handler] = [
            .program(ProgramHandler(name: "prog_\(fd)", type: 2, bytecode: program, attachments: [.init(targetFD: fd + 1)])),
            .perfEvent(PerfEventHandler(event: .uprobe(.init(moduleName: "/usr/lib/libc.so.6", offset: UInt64(fd) * 16)),
                                        enabled: true)),
            .link(LinkHandler(programFD: fd, targetFD: fd + 1)),
            .map(MapHandler(name: "arr_\(fd + 3)", attributes: MapAttributes(mapType: 2, keySize: 4, valueSize: 8, maxEntries: 4),
                            contents: MapContents(keySize: 4, valueSize: 8, keys: (0..<4).flatMap { [UInt8($0), 0, 0, 0] },
                                                  values: [UInt8](repeating: 7, count: 32)))),
        ]
        for handler in group.prefix(handlers - records.count) {
            records.append(HandlerRecord(fd: fd, handler: handler))
            fd += 1
        }
    }
    return records
}

func export(to path: String) {
    let records = synthesize(handlers: 10_000, mapEntries: 1_000_000)
    let rssBefore = procStatus("VmRSS") ?? 0
    let peakReset = resetPeakRSS()
    guard let file = fopen(path, "w") else { fail("cannot create \(path)") }
    let start = now()
    do {
        try BPFTimeJSON.write(records, includeData: true) { chunk in
            guard fwrite(chunk.baseAddress, 1, chunk.count, file) == chunk.count else { fail("write failed") }
        }
    } catch {
        fail("\(error)")
    }
    fclose(file)
    let seconds = now() - start
    let peak = procStatus("VmHWM") ?? 0
    print("ours_export_seconds \(seconds)")
    if peakReset {
        print("ours_export_peak_mib_beyond_records \(Double(peak - rssBefore) / 1024)")
    }
    print("ours_records_rss_mib \(Double(rssBefore) / 1024)")
}

func importDocument(from path: String) {
    let start = now()
    guard let file = fopen(path, "r") else { fail("cannot open \(path)") }
    fseek(file, 0, SEEK_END)
    let size = ftell(file)
    fseek(file, 0, SEEK_SET)
    let bytes = [UInt8](unsafeUninitializedCapacity: size) { buf, count in
        count = fread(buf.baseAddress, 1, size, file)
    }
    fclose(file)
    guard bytes.count == size else { fail("short read of \(path)") }
    let records: [HandlerRecord]
    do {
        records = try BPFTimeJSON.decodeDocument(bytes)
    } catch {
        fail("\(error)")
    }
    let seconds = now() - start
    let entries = records.reduce(0) { $0 + ($1.handler.map?.contents?.count ?? 0) }
    print("ours_import_seconds \(seconds)")
    print("ours_import_handlers \(records.count) map_entries \(entries)")
}

extension Handler {
    var map: MapHandler? { if case .map(let m) = self { m } else { nil } }
}

let args = CommandLine.arguments
guard args.count == 3 else { fail("usage: BPFInterchangeBench export|import <file>") }
switch args[1] {
case "export": export(to: args[2])
case "import": importDocument(from: args[2])
default: fail("unknown mode \(args[1])")
}

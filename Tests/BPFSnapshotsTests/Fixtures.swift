import BPFModel
@testable import BPFSnapshots
import Foundation

/// A fresh directory under /tmp, removed when the value is released.
final class TemporaryDirectory {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "bpfsnap-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
}

enum Fixtures {
    static let meta = SnapshotMeta(segmentName: "bpftime_maps_shm", host: "testhost", generation: 7)

    static func bytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }

    static func program(_ instructions: [UInt64]) -> [UInt8] { instructions.flatMap { bytes($0) } }

    static func hashMap(_ pairs: [(UInt32, UInt64)]) -> MapContents {
        var m = MapContents(keySize: 4, valueSize: 8)
        for (k, v) in pairs { m.append(key: bytes(k), value: bytes(v)) }
        return m
    }

    /// One handler of every kind (and every perf event type), maps with contents of each shape,
    /// entries in key-byte order (the order the store gives them back in).
    static func everyKind() -> [HandlerRecord] {
        var percpu = MapContents(keySize: 4, valueSize: 8, valuesPerEntry: 4)
        percpu.append(key: bytes(UInt32(0)), value: [UInt8](repeating: 9, count: 32))
        percpu.append(key: bytes(UInt32(1)), value: (0..<32).map(UInt8.init))
        var queue = MapContents(keySize: 0, valueSize: 4)
        for v: UInt32 in [30, 10, 20] { queue.append(key: [], value: bytes(v)) }
        return [
            HandlerRecord(fd: 3, handler: .map(MapHandler(
                name: "counts", attributes: MapAttributes(mapType: 1, keySize: 4, valueSize: 8, maxEntries: 64, flags: 1, mapExtra: .max),
                contents: hashMap([(0x0300_0000, 7), (1, 10), (2, 20)])))),
            HandlerRecord(fd: 4, handler: .map(MapHandler(
                name: "percpu", attributes: MapAttributes(mapType: 5, keySize: 4, valueSize: 8, maxEntries: 8), contents: percpu))),
            HandlerRecord(fd: 5, handler: .map(MapHandler(
                name: "queue", attributes: MapAttributes(mapType: 22, keySize: 0, valueSize: 4, maxEntries: 8), contents: queue))),
            HandlerRecord(fd: 6, handler: .map(MapHandler(
                name: "nodata", attributes: MapAttributes(mapType: 2, keySize: 4, valueSize: 4, maxEntries: 4), contents: nil))),
            HandlerRecord(fd: 7, handler: .perfEvent(PerfEventHandler(
                event: .uprobe(.init(moduleName: "/lib/libc.so.6", offset: 0x1234, pid: 42, refCtrOffset: 8)), enabled: true))),
            HandlerRecord(fd: 8, handler: .perfEvent(PerfEventHandler(event: .uretprobe(.init(moduleName: "/bin/x", offset: 16))))),
            HandlerRecord(fd: 9, handler: .perfEvent(PerfEventHandler(event: .uprobeOverride(.init(moduleName: "/bin/y", offset: .max))))),
            HandlerRecord(fd: 10, handler: .perfEvent(PerfEventHandler(event: .tracepoint(pid: -1, tracepointID: 611)))),
            HandlerRecord(fd: 11, handler: .perfEvent(PerfEventHandler(event: .software(cpu: 2, config: 10, sampleType: 0x400)))),
            HandlerRecord(fd: 12, handler: .program(ProgramHandler(
                name: "probe", type: 2, bytecode: program([0x0000_0001_0000_00b7, 0x95]),
                attachments: [.init(targetFD: 7, cookie: 99), .init(targetFD: 8)]))),
            HandlerRecord(fd: 13, handler: .link(LinkHandler(programFD: 12, targetFD: 7, attachType: 3, cookie: .max))),
            HandlerRecord(fd: 14, handler: .epoll),
            HandlerRecord(fd: 15, handler: .memfd(MemfdHandler(name: "mem", flags: 1))),
        ]
    }

    /// A map handler of `count` entries (key i → value i * factor), fd 3.
    static func bigMap(_ count: Int, factor: UInt64 = 1, name: String = "big") -> HandlerRecord {
        var m = MapContents(keySize: 4, valueSize: 8)
        m.keys.reserveCapacity(4 * count)
        m.values.reserveCapacity(8 * count)
        for i in 0..<count { m.append(key: bytes(UInt32(i)), value: bytes(UInt64(i) &* factor)) }
        return HandlerRecord(fd: 3, handler: .map(MapHandler(
            name: name, attributes: MapAttributes(mapType: 1, keySize: 4, valueSize: 8, maxEntries: UInt32(count)), contents: m)))
    }

    static func fileBytes(_ path: String) -> [UInt8] {
        (FileManager.default.contents(atPath: path)).map { [UInt8]($0) } ?? []
    }

    /// Runs a program to completion; returns its status and standard output.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], input: String? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), inPipe = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = inPipe
        try process.run()
        if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)) }
        try inPipe.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// `sqlite3 -json` rows of `sql` on the database at `path`.
    static func query(_ path: String, _ sql: String) throws -> [[String: Any]] {
        let (status, output) = try run("/usr/bin/sqlite3", ["-json", path, sql])
        guard status == 0 else { throw SnapshotError.database("sqlite3 failed (\(status)) on: \(sql)") }
        if output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return [] }
        return (try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]]) ?? []
    }

    /// The package's root directory, found from this file.
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        }
        return FileManager.default.currentDirectoryPath
    }()

    /// The BPFSnapshotsBench executable built beside the test bundle (`swift test` builds it).
    static let benchExecutable: String? = {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [dir.appendingPathComponent("BPFSnapshotsBench").path,
                          dir.deletingLastPathComponent().appendingPathComponent("BPFSnapshotsBench").path,
                          packageRoot + "/.build/debug/BPFSnapshotsBench"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()
}

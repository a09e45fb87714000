import TestSupport
import Foundation
import Testing

/// The examples as a user runs them: compiled by clang, `prog load --attach`, fired by a real
/// bpftime-target process, read back with `map dump` and the snapshot history.
@Suite(.serialized, .enabled(if: ExampleCompiler.clang != nil, Comment(rawValue: ExampleCompiler.skipReason)))
struct ObjectLoadEndToEndTests {
    static let target = ToolRunner.executable.deletingLastPathComponent().appendingPathComponent("bpftime-target")

    /// A fresh segment and snapshot database for one test.
    static func withTool(_ body: (ToolRunner) throws -> Void) throws {
        let db = FileManager.default.temporaryDirectory.appendingPathComponent("object_e2e_\(getpid())_\(UInt32.random(in: 0 ... .max)).db").path
        let tool = ToolRunner(extraEnvironment: ["BPFTIME_SNAP_DB": db, "BPFTIME_SNAP_RECORD": "0"]) // ids below are the saves'
        defer {
            tool.cleanUp()
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) }
        }
        try body(tool)
    }

    /// `prog load --attach --json` of an example whose uprobes name the built bpftime-target;
    /// returns the fds by handler name.
    static func load(_ tool: ToolRunner, _ example: String, _ extra: [String] = []) throws -> [String: Int] {
        let object = try ExampleCompiler.compile(example, target: target.path)
        let result = try tool.run(["prog", "load", object.path, "--attach", "--json"] + extra)
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: result.stdoutBytes) as? [String: Any])
        let handlers = try #require(json["handlers"] as? [[String: Any]])
        return Dictionary(handlers.compactMap { h in (h["name"] as? String).flatMap { n in (h["fd"] as? Int).map { (n, $0) } } },
                          uniquingKeysWith: { a, _ in a })
    }

    /// Runs bpftime-target for `calls` calls on the tool's segment; returns its pid.
    @discardableResult
    static func fire(_ tool: ToolRunner, calls: Int) throws -> Int32 {
        try fireAndRead(tool, calls: calls).pid
    }

    /// `fire`, also answering what the target printed.
    static func fireAndRead(_ tool: ToolRunner, calls: Int) throws -> (pid: Int32, output: String) {
        let process = Process()
        process.executableURL = target
        process.arguments = ["--shm", tool.segmentName, "--iterations", String(calls), "--report-every", String(calls)]
        process.environment = tool.environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(!text.contains("faulted"), "\(text)")
        return (process.processIdentifier, text)
    }

    /// `map dump --json` as key hex → value as a little-endian integer (or queue values in order).
    static func dump(_ tool: ToolRunner, _ fd: Int) throws -> [(key: String?, value: [UInt8])] {
        let result = try tool.run(["map", "dump", String(fd), "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let entries = try #require(try JSONSerialization.jsonObject(with: result.stdoutBytes) as? [[String: Any]])
        return entries.map { ($0["key"] as? String, hexBytes($0["value"] as? String ?? "")) }
    }

    static func hexBytes(_ hex: String) -> [UInt8] {
        stride(from: 0, to: hex.count, by: 2).map { UInt8(hex.dropFirst($0).prefix(2), radix: 16)! }
    }

    static func u64(_ bytes: some Collection<UInt8>) -> UInt64 { bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) } }

    static func hex(_ value: UInt32) -> String { (0 ..< 4).map { String(format: "%02x", (value >> (8 * $0)) & 0xff) }.joined() }

    @Test func uprobeCounterFillsItsHashMapAndSnapshotsSeeIt() throws {
        try Self.withTool { tool in
            let fds = try Self.load(tool, "uprobe_counter")
            let map = try #require(fds["calls_by_pid"])
            #expect(fds["count_work"] != nil && fds["uprobe"] != nil)
            let pid = try Self.fire(tool, calls: 300)
            let entries = try Self.dump(tool, map)
            #expect(entries.count == 1 && entries.first?.key == Self.hex(UInt32(pid)) && Self.u64(entries[0].value) == 300)
            #expect(try tool.run(["snap", "save", "-m", "after one target"]).status == 0)
            let second = try Self.fire(tool, calls: 200)
            #expect(try tool.run(["snap", "save", "-m", "after two"]).status == 0)
            let diff = try tool.run(["snap", "diff", "1", "2", "--json"])
            #expect(diff.status == 1)
            let json = try #require(try JSONSerialization.jsonObject(with: diff.stdoutBytes) as? [String: Any])
            let changed = try #require(json["changed"] as? [[String: Any]])
            #expect(changed.map { $0["fd"] as? Int } == [map])
            let details = try #require((changed.first?["entries"] as? [String: Any])?["details"] as? [[String: Any]])
            #expect(details.compactMap { $0["key"] as? String } == [Self.hex(UInt32(second))])
        }
    }

    @Test func funclatencyKnobsAndHistogram() throws {
        try Self.withTool { tool in
            // A target_pid no process has: the entry program records nothing.
            let fds = try Self.load(tool, "funclatency", ["--set", "target_pid=1", "--set", "units_shift=0"])
            let bss = try #require(fds.first { $0.key.hasSuffix(".bss") }?.value)
            let rodata = try #require(fds.first { $0.key.hasSuffix(".rodata") }?.value)
            #expect(try Self.dump(tool, rodata).first?.value.prefix(4) == [1, 0, 0, 0])
            try Self.fire(tool, calls: 100)
            #expect(try Self.dump(tool, bss).first?.value.allSatisfy { $0 == 0 } == true)
        }
        try Self.withTool { tool in
            let fds = try Self.load(tool, "funclatency")
            let bss = try #require(fds.first { $0.key.hasSuffix(".bss") }?.value)
            try Self.fire(tool, calls: 250)
            let value = try #require(try Self.dump(tool, bss).first?.value)
            #expect(value.count == 33 * 8)
            let histogram = (0 ..< 32).map { Self.u64(value[$0 * 8 ..< $0 * 8 + 8]) }
            #expect(histogram.reduce(0, +) == 250 && Self.u64(value[256...]) == 250)
        }
    }

    @Test func queueTailCallsAndArguments() throws {
        try Self.withTool { tool in
            let queue = try #require(try Self.load(tool, "queue_producer")["arguments"])
            let dispatch = try Self.load(tool, "tailcall")
            let args = try #require(try Self.load(tool, "kprobe_args")["seen"])
            try Self.fire(tool, calls: 40)
            // The queue holds each call's first argument (1, 2, ...), read from pt_regs.di.
            #expect(try Self.dump(tool, queue).map { Self.u64($0.value) } == Array(1 ... 40))
            // The dispatcher tail-called the even and odd handlers alternately.
            #expect(try Self.dump(tool, try #require(dispatch["handled"])).map { Self.u64($0.value) } == [20, 20])
            // bpftime_target_add(n, 2n): the last pair and the sum of every a + b.
            #expect(try Self.dump(tool, args).map { Self.u64($0.value) } == [40, 80, (1 ... 40).reduce(0) { $0 + 3 * UInt64($1) }])
        }
    }

    @Test func eventPipeStreamsRingbufRecordsAsTheyArrive() throws {
        try Self.withTool { tool in
            let ring = try #require(try Self.load(tool, "ringbuf_emitter")["events"])
            // The pipe starts on an empty ring and waits; the target's records reach it as they come.
            let pipe = Process()
            pipe.executableURL = ToolRunner.executable
            pipe.arguments = ["map", "event-pipe", String(ring), "--json", "--count", "6"]
            pipe.environment = tool.environment
            let out = Pipe()
            pipe.standardOutput = out
            try pipe.run()
            let pid = try Self.fire(tool, calls: 6)
            let lines = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
            pipe.waitUntilExit()
            #expect(pipe.terminationStatus == 0)
            // struct event { u32 pid; u32 pad; u64 argument; } for arguments 1...6.
            let expected = (1 ... 6).map { n in "{\"size\":16,\"data\":\"\(Self.hex(UInt32(pid)))00000000\(Self.hex(UInt32(n)))00000000\"}" }
            #expect(lines.map(String.init) == expected)
            // They were consumed: the ring is empty now.
            #expect(try tool.run(["list"]).stdout.contains("ringbuf key=0 value=0 max_entries=4096 entries=0"))
            let notRing = try tool.run(["map", "event-pipe", String(ring + 1)])
            #expect(notRing.status != 0)
        }
    }

    /// bpftime's uprobe-override example (a bare SEC("uprobe")) attached with --attach-override:
    /// each of 10 calls of the work function returns 2n instead of running, so the target's
    /// checksum is the sum of 2n + 3n (its add function) = 275.
    @Test func uprobeOverrideReplacesTheFunctionsResult() throws {
        try Self.withTool { tool in
            let point = "\(Self.target.path):bpftime_target_work"
            let fds = try Self.load(tool, "uprobe_override", ["--attach-override", "do_uprobe_override_patch=\(point)"])
            #expect(fds["uprobe_override"] != nil, "a uprobe_override event was created: \(fds)")
            #expect(try Self.fireAndRead(tool, calls: 10).output.contains("checksum=275"))
            let unknown = try tool.run(["prog", "load", try ExampleCompiler.compile("uprobe_override", target: Self.target.path).path,
                                        "--attach-override", "nothing=\(point)"])
            #expect(unknown.status != 0 && unknown.stderr.contains("no program named nothing"), "\(unknown.stderr)")
        }
    }

    @Test func whatCannotBeLoadedOrAttachedIsSaid() throws {
        try Self.withTool { tool in
            let object = try ExampleCompiler.compile("tailcall", target: Self.target.path)
            let imported = try tool.run(["import", object.path])
            #expect(imported.status != 0 && imported.stderr.contains("prog load"))
            let load = try tool.run(["prog", "load", object.path, "--attach", "--fd-base", "20"])
            #expect(load.status == 0, "\(load.stderr)")
            #expect(load.stdout.contains("not attached: handle_even (uprobe)"))
            #expect(load.stdout.split(separator: "\n").dropFirst().first?.hasPrefix("20 ") == true)
            // A second load of another object takes the next free fds; a bad --set changes nothing.
            let before = try tool.run(["export", "-"]).stdoutBytes
            let bad = try tool.run(["prog", "load", try ExampleCompiler.compile("funclatency", target: Self.target.path).path, "--set", "units_shift=hello"])
            #expect(bad.status != 0 && bad.stderr.contains("units_shift"))
            let missing = try tool.run(["prog", "load", try ExampleCompiler.compile("uprobe_counter", target: "/nonexistent/app").path, "--attach"])
            #expect(missing.status == 0 && missing.stdout.contains("not attached: count_work") && missing.stdout.contains("/nonexistent/app"))
            #expect(try tool.run(["export", "-"]).stdoutBytes != before)
            let notObject = try tool.run(["prog", "load", ToolRunner.repositoryRoot.appendingPathComponent("Scripts/demo-state.json").path])
            #expect(notObject.status != 0 && notObject.stderr.contains("not an ELF file"))
        }
    }
}

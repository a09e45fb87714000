import Foundation
import Testing

/// bpftool's map verbs beyond dump/lookup/update/delete.
@Suite(.serialized) struct MapVerbTests {
    /// Loads an empty map of bpftime's shape at `fd`.
    static func loadMap(_ tool: ToolRunner, fd: Int, type: Int, key: Int, value: Int, entries: Int) throws {
        let map = #"{"type": "bpf_map_handler", "name": "m", "attr": {"map_type": \#(type), "key_size": \#(key), "value_size": \#(value), "max_entries": \#(entries)}}"#
        try #require(try tool.run(["load", String(fd), map]).status == 0)
    }

    @Test func getNextWalksTheKeysAndSpacedHexIsAccepted() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        try Self.loadMap(tool, fd: 3, type: 1, key: 4, value: 8, entries: 4)
        #expect(try tool.run(["map", "update", "3", "01 00 00 00", "0x0500000000000000"]).status == 0)
        #expect(try tool.run(["map", "update", "3", "02000000", "06 00 00 00 00 00 00 00"]).status == 0)
        let first = try tool.run(["map", "getnext", "3"])
        #expect(first.status == 0 && first.stdout == "key: 01000000 (1)\n", "\(first.stdout)\(first.stderr)")
        let second = try tool.run(["map", "getnext", "3", "01 00 00 00"])
        #expect(second.stdout == "key: 02000000 (2)\n", "\(second.stdout)\(second.stderr)")
        let last = try tool.run(["map", "getnext", "3", "02000000"])
        #expect(last.status != 0 && last.stderr.contains("no key after"), "\(last.stderr)")
    }

    @Test func queuesPushPeekAndPopInOrder() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        try Self.loadMap(tool, fd: 3, type: 22, key: 0, value: 4, entries: 4)
        #expect(try tool.run(["map", "push", "3", "07000000"]).status == 0)
        #expect(try tool.run(["map", "enqueue", "3", "08 00 00 00"]).status == 0)
        #expect(try tool.run(["map", "peek", "3"]).stdout == "value: 07000000 (7)\n")
        #expect(try tool.run(["map", "pop", "3"]).stdout == "value: 07000000 (7)\n")
        #expect(try tool.run(["map", "dequeue", "3"]).stdout == "value: 08000000 (8)\n")
        let empty = try tool.run(["map", "pop", "3"])
        #expect(empty.status != 0 && empty.stderr.contains("empty"), "\(empty.stderr)")
    }

    /// A prog_array slot takes a program's fd only, as in the kernel.
    @Test func progArraysTakeProgramFdsOnly() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        try Self.loadMap(tool, fd: 3, type: 3, key: 4, value: 4, entries: 4)
        let program = #"{"type": "bpf_prog_handler", "name": "p", "attr": {"type": 0, "cnt": 1, "insns": "9500000000000000"}}"#
        try #require(try tool.run(["load", "4", program]).status == 0)
        #expect(try tool.run(["map", "update", "3", "00000000", "04000000"]).status == 0)
        for target in ["03000000", "63000000", "ffffff7f"] {
            let refused = try tool.run(["map", "update", "3", "01000000", target])
            #expect(refused.status != 0 && refused.stderr.contains("is not a program"), "\(target): \(refused.stderr)")
        }
        #expect(try tool.run(["map", "dump", "3"]).stdout.contains("1 entries"))
    }

    /// `map create` as bpftool's: the map exists with exactly the given definition, and the
    /// creation is a recorded change.
    @Test func createMakesAMapAndRecordsIt() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        let created = try tool.run(["map", "create", "3", "--type", "lru_hash", "--key", "4", "--value", "8", "--entries", "16",
                                    "--name", "counts", "--flags", "0x80"])
        try #require(created.status == 0, "\(created.stderr)")
        let exported = try InteropTests.exported(tool)
        #expect(exported["3"]?["name"] as? String == "counts")
        let attr = try #require(exported["3"]?["attr"] as? [String: Any])
        #expect([attr["map_type"], attr["key_size"], attr["value_size"], attr["max_entries"], attr["flags"]].map { $0 as? Int } == [9, 4, 8, 16, 128])
        #expect(try tool.run(["map", "update", "3", "01000000", "0200000000000000"]).status == 0)
        #expect(try tool.run(["snap", "log"]).stdout.contains("map create fd 3"))
        for bad in [["--type", "nosuch"], ["--type", "array", "--key", "8"]] {
            var arguments = ["map", "create", "5", "--type", "hash", "--key", "4", "--value", "4", "--entries", "4", "--name", "m"]
            arguments += bad
            let refused = try tool.run(arguments)
            #expect(refused.status != 0 && !refused.stderr.isEmpty, "\(bad)")
        }
        #expect(try tool.run(["map", "create", "3", "--type", "hash", "--key", "4", "--value", "4", "--entries", "4", "--name", "again"]).status != 0)
    }

    /// After `map freeze`, the tool's writes are refused and reads still work; a program still
    /// writes the map, as in the kernel for a map without BPF_F_RDONLY_PROG.
    @Test func freezeRefusesToolWritesOnly() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        #expect(try tool.run(["map", "create", "3", "--type", "array", "--key", "4", "--value", "8", "--entries", "4", "--name", "a"]).status == 0)
        #expect(try tool.run(["map", "create", "5", "--type", "queue", "--key", "0", "--value", "4", "--entries", "4", "--name", "q"]).status == 0)
        #expect(try tool.run(["map", "push", "5", "01000000"]).status == 0)
        // *(u32 *)(r10 - 4) = 0; *(u64 *)(r10 - 16) = 42; bpf_map_update_elem(map 3, r10 - 4, r10 - 16, 0)
        let insns = "18110000030000000000000000000000" + "620afcff00000000" + "7a0af0ff2a000000" + "bfa2000000000000" + "07020000fcffffff"
            + "bfa3000000000000" + "07030000f0ffffff" + "b704000000000000" + "8500000002000000" + "9500000000000000"
        let program = #"{"type": "bpf_prog_handler", "name": "w", "attr": {"type": 0, "cnt": 11, "insns": "\#(insns)"}}"#
        try #require(try tool.run(["load", "4", program]).status == 0)
        #expect(try tool.run(["map", "update", "3", "00000000", "0700000000000000"]).status == 0)
        for fd in ["3", "5"] { #expect(try tool.run(["map", "freeze", fd]).status == 0) }

        for refusedArguments in [["map", "update", "3", "00000000", "0800000000000000"], ["map", "push", "5", "02000000"], ["map", "pop", "5"]] {
            let refused = try tool.run(refusedArguments)
            #expect(refused.status != 0 && refused.stderr.contains("frozen"), "\(refusedArguments): \(refused.stderr)")
        }
        #expect(try tool.run(["map", "get", "3", "00000000"]).stdout.contains("0700000000000000"))
        #expect(try tool.run(["map", "peek", "5"]).stdout == "value: 01000000 (1)\n")
        let input = tool.temporaryFile("input", contents: Data([0]))
        let ran = try tool.run(["run", "4", input.path, "type", "INTERPRET"])
        #expect(ran.status == 0 && ran.stdout.contains("Return value: 0"), "\(ran.stdout)\(ran.stderr)")
        #expect(try tool.run(["map", "get", "3", "00000000"]).stdout.contains("2a00000000000000"))
    }

    /// A ringbuf has records, not entries: `map dump` says where to read them.
    @Test func dumpOfARingbufPointsToEventPipe() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        #expect(try tool.run(["map", "create", "3", "--type", "ringbuf", "--key", "0", "--value", "0", "--entries", "4096", "--name", "r"]).status == 0)
        let dump = try tool.run(["map", "dump", "3"])
        #expect(dump.status != 0 && dump.stderr.contains("map event-pipe 3"), "\(dump.stderr)")
    }

    /// A program's `bpf_perf_event_output` (25) through `run` lands in the perf_event_array's
    /// ring of CPU 0, which `map event-pipe` reads (and consumes) with its CPU; `map dump` points there.
    @Test func eventPipeReadsPerfEventArrayRecords() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        #expect(try tool.run(["map", "create", "3", "--type", "perf_event_array", "--key", "4", "--value", "4", "--entries", "2", "--name", "events"]).status == 0)
        // r4 = data; r2 = map 3; r3 = 0 (CPU 0's ring); r5 = 4; perf_event_output(r1, r2, r3, r4, r5); r0 = 0
        let insns = "bf14000000000000" + "1812000003000000" + "0000000000000000" + "b703000000000000" + "b705000004000000"
            + "8500000019000000" + "b700000000000000" + "9500000000000000"
        let program = #"{"type": "bpf_prog_handler", "name": "emit", "attr": {"type": 0, "cnt": 8, "insns": "\#(insns)"}}"#
        try #require(try tool.run(["load", "4", program]).status == 0)
        let input = tool.temporaryFile("input", contents: Data([1, 2, 3, 4, 5]))
        for _ in 0 ..< 2 { #expect(try tool.run(["run", "4", input.path, "type", "INTERPRET"]).stdout.contains("Return value: 0")) }
        let dump = try tool.run(["map", "dump", "3"])
        #expect(dump.status != 0 && dump.stderr.contains("map event-pipe 3"), "\(dump.stderr)")
        let first = try tool.run(["map", "event-pipe", "3", "--count", "1"])
        #expect(first.status == 0 && first.stdout == "cpu 0: 01020304\n", "\(first.stdout)\(first.stderr)")
        let second = try tool.run(["map", "event-pipe", "3", "--count", "1", "-j"])
        let record = try JSONSerialization.jsonObject(with: second.stdoutBytes) as? [String: Any]
        #expect(record?["cpu"] as? Int == 0 && record?["size"] as? Int == 4 && record?["data"] as? String == "01020304", "\(second.stdout)")
    }

    /// `--int`: keys and values as integers sized to the map (decimal, 0x hex, negative), a
    /// per-CPU map's value on every CPU; hex bytes stay the default.
    @Test func integerKeysAndValuesAreSizedToTheMap() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        try Self.loadMap(tool, fd: 3, type: 1, key: 4, value: 8, entries: 4)
        #expect(try tool.run(["map", "update", "3", "7", "100", "--int"]).status == 0)
        #expect(try tool.run(["map", "update", "3", "--int", "--", "0x8", "-1"]).status == 0)
        #expect(try tool.run(["map", "get", "3", "07000000"]).stdout == "6400000000000000 (100)\n")
        #expect(try tool.run(["map", "get", "3", "8", "--int"]).stdout.hasPrefix("ffffffffffffffff"))
        let tooBig = try tool.run(["map", "update", "3", "4294967296", "1", "--int"])
        #expect(tooBig.status != 0 && tooBig.stderr.contains("fits 4 bytes"), "\(tooBig.stderr)")
        let notHex = try tool.run(["map", "get", "3", "7"])
        #expect(notHex.status != 0 && notHex.stderr.contains("--int"), "\(notHex.stderr)")

        try Self.loadMap(tool, fd: 4, type: 6, key: 4, value: 4, entries: 2)
        #expect(try tool.run(["map", "update", "4", "1", "5", "--int"]).status == 0)
        let values = try tool.run(["map", "get", "4", "1", "--int", "-j"])
        let cpus = try #require((try JSONSerialization.jsonObject(with: values.stdoutBytes) as? [String: Any])?["value"] as? [String])
        #expect(!cpus.isEmpty && cpus.allSatisfy { $0 == "05000000" }, "\(values.stdout)")
    }
}

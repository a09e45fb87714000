import Foundation
import Testing

/// bpftool's map verbs beyond dump/lookup/update/delete.
@Suite(.serialized) struct MapVerbTests {
    @Test func getNextWalksTheKeysAndSpacedHexIsAccepted() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        let map = #"{"type": "bpf_map_handler", "name": "h", "attr": {"map_type": 1, "key_size": 4, "value_size": 8, "max_entries": 4}}"#
        try #require(try tool.run(["load", "3", map]).status == 0)
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
        let queue = #"{"type": "bpf_map_handler", "name": "q", "attr": {"map_type": 22, "key_size": 0, "value_size": 4, "max_entries": 4}}"#
        try #require(try tool.run(["load", "3", queue]).status == 0)
        #expect(try tool.run(["map", "push", "3", "07000000"]).status == 0)
        #expect(try tool.run(["map", "enqueue", "3", "08 00 00 00"]).status == 0)
        #expect(try tool.run(["map", "peek", "3"]).stdout == "value: 07000000 (7)\n")
        #expect(try tool.run(["map", "pop", "3"]).stdout == "value: 07000000 (7)\n")
        #expect(try tool.run(["map", "dequeue", "3"]).stdout == "value: 08000000 (8)\n")
        let empty = try tool.run(["map", "pop", "3"])
        #expect(empty.status != 0 && empty.stderr.contains("empty"), "\(empty.stderr)")
    }
}

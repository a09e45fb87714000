import Testing
import BPFModel
@testable import BPFInterchange

@Suite struct FixtureTests {
    @Test func mallocDecodesToItsValues() throws {
        let records = try BPFTimeJSON.decodeDocument(try Fixtures.bytes("malloc.json"))
        #expect(records.map(\.fd) == [3, 4, 5, 6, 7])

        let counts = try #require(records.handler(at: 3)?.map)
        #expect(counts.name == "libc_malloc_cal")
        #expect(counts.attributes == MapAttributes(mapType: 1, keySize: 4, valueSize: 8, maxEntries: 1024, btfID: 1))
        #expect(counts.contents == nil)

        let rodata = try #require(records.handler(at: 4)?.map)
        #expect(rodata.name == ".rodata.str1.1")
        #expect(rodata.attributes == MapAttributes(mapType: 2, keySize: 4, valueSize: 27, maxEntries: 1, flags: 128, btfID: 2))

        let prog = try #require(records.handler(at: 5)?.program)
        #expect(prog.name == "do_count")
        #expect(prog.type == 532_368_092)
        #expect(prog.instructionCount == 55)
        #expect(Array(prog.bytecode.prefix(8)) == [0x85, 0, 0, 0, 0x0e, 0, 0, 0])
        #expect(Array(prog.bytecode.suffix(8)) == [0x95, 0, 0, 0, 0, 0, 0, 0])
        #expect(prog.attachments.isEmpty)

        let probe = try #require(records.handler(at: 6)?.perfEvent)
        #expect(probe.enabled)
        #expect(probe.event == .uprobe(.init(moduleName: "/lib/x86_64-linux-gnu/libc.so.6", offset: 676_000, pid: -1)))

        #expect(records.handler(at: 7)?.link == LinkHandler(programFD: 5, targetFD: 6))
    }

    @Test func mallocIsReproducedByteForByte() throws {
        let original = try Fixtures.bytes("malloc.json")
        let records = try BPFTimeJSON.decodeDocument(original)
        var streamed: [UInt8] = []
        try BPFTimeJSON.write(records, includeData: true) { streamed.append(contentsOf: $0) }
        #expect(text(streamed) == text(original))
        #expect(streamed == original)
        #expect(BPFTimeJSON.encodeDocument(records, includeData: false) == original)
    }

    @Test func minimalDecodesOlderShape() throws {
        let records = try BPFTimeJSON.decodeDocument(try Fixtures.bytes("minimal.json"))
        #expect(records.map(\.fd) == [3, 4, 5])

        let rodata = try #require(records.handler(at: 3)?.map)
        #expect(rodata.name == ".rodata.str1.1")
        // No kernel_bpf_map_id in this older file: it defaults to 0.
        #expect(rodata.attributes == MapAttributes(mapType: 2, keySize: 4, valueSize: 21, maxEntries: 1, flags: 128, btfID: 2))

        let prog = try #require(records.handler(at: 4)?.program)
        #expect(prog.name == "do_uprobe_trace")
        #expect(prog.type == 0)
        #expect(prog.instructionCount == 16)
        #expect(Array(prog.bytecode.prefix(8)) == [0xb7, 0x01, 0, 0, 0x65, 0x64, 0x2e, 0x0a])
        #expect(prog.attachments == [.init(targetFD: 5)])

        // No data_type, a tracepoint_id of -1 on a uprobe, no "enabled".
        let probe = try #require(records.handler(at: 5)?.perfEvent)
        #expect(probe.event == .uprobe(.init(moduleName: "example/minimal/victim", offset: 4457, pid: -1, refCtrOffset: 0)))
        #expect(!probe.enabled)
    }

    @Test func ebpfDecodesOtherKeyOrder() throws {
        let records = try BPFTimeJSON.decodeDocument(try Fixtures.bytes("ebpf.json"))
        let prog = try #require(records.handler(at: 1)?.program)
        #expect(records.count == 1)
        #expect(prog.name == "example_prog")
        #expect(prog.type == 1)
        #expect(prog.bytecode == [0xab, 0xcd, 0x12, 0x34, 0xef, 0x56, 0x78, 0x90])
        #expect(prog.attachments.map(\.targetFD) == [2, 3])
    }

    /// The older shapes come out in today's shape; reading that back gives the same values.
    @Test(arguments: ["minimal.json", "ebpf.json", "malloc.json", "redis-export.json"])
    func rewrittenFixtureReadsBackEqual(name: String) throws {
        let records = try BPFTimeJSON.decodeDocument(try Fixtures.bytes(name))
        let again = try BPFTimeJSON.decodeDocument(BPFTimeJSON.encodeDocument(records, includeData: true))
        #expect(again == records)
    }

    @Test func minimalRewrittenInCurrentShape() throws {
        let records = try BPFTimeJSON.decodeDocument(try Fixtures.bytes("minimal.json"))
        let written = text(BPFTimeJSON.encodeDocument(records, includeData: true))
        let attr = "\n" + String(repeating: " ", count: 12)
        #expect(written.contains(attr + "\"attach_fds\": [" + attr + "    5" + attr + "]," + attr + "\"cnt\": 16,"))
        #expect(written.contains("\"data_type\": \"uprobe_perf_event_data\""))
        #expect(written.contains("\"enabled\": false"))
        #expect(!written.contains("tracepoint_id"))
    }
}

import Foundation
import TestSupport
import Testing
import BPFModel
@testable import BPFVM

/// bpftime's `malloc.json` fixture: `do_count` counts calls per pid in hash map 3 and prints
/// with a format string from `.rodata` (map 4).
@Suite struct FixtureProgramTests {
    struct Fixture {
        let program: Program
        let maps = SegmentMaps()
    }

    func load() throws -> Fixture {
        let data = try Data(contentsOf: SharedFiles.url("fixtures/bpftime/malloc.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
        let prog = try #require(json["5"]?["attr"] as? [String: Any])
        let fixture = Fixture(program: try Program(bytecode: bytes(hex: try #require(prog["insns"] as? String))))
        for fd in ["3", "4"] {
            let attr = try #require(json[fd]?["attr"] as? [String: Any])
            let type = try #require(attr["map_type"] as? Int), flags = try #require(attr["flags"] as? Int)
            fixture.maps.addMap(fd: Int32(fd)!, MapInfo(
                kind: try #require(MapKind(mapType: UInt32(type))), keySize: try #require(attr["key_size"] as? Int),
                valueSize: try #require(attr["value_size"] as? Int), maxEntries: try #require(attr["max_entries"] as? Int),
                readOnly: flags & 0x80 != 0))   // BPF_F_RDONLY_PROG
        }
        return fixture
    }

    @Test func doCountCountsCallsPerPid() throws {
        let fixture = try load()
        let listing = Disassembler.listing(of: fixture.program)
        #expect(listing.contains("lddw %r1, map_fd 3"))
        var printed: [String] = []
        let vm = try TestMachine(program: fixture.program, maps: fixture.maps, options: VMOptions(trace: { printed.append($0) }))
        for _ in 0 ..< 100 { _ = try run(vm, [UInt8](repeating: 0, count: 64)) }
        let pid = UInt32(getpid())
        #expect(fixture.maps.value(fd: 3, key: key(pid)) == le64(100))
        #expect(printed == [String](repeating: "malloc called from pid \(pid)\n", count: 100))
    }

    func fixtureProgram(_ file: String, fd: String) throws -> Program {
        let data = try Data(contentsOf: SharedFiles.url("fixtures/bpftime/\(file)"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
        let attr = try #require(json[fd]?["attr"] as? [String: Any])
        return try Program(bytecode: bytes(hex: try #require(attr["insns"] as? String)))
    }

    @Test func minimalPrintsItsMessage() throws {
        var printed = ""
        let vm = try TestMachine(program: try fixtureProgram("minimal.json", fd: "4"), options: VMOptions(trace: { printed += $0 }))
        #expect(try run(vm) == 0)
        #expect(printed == "target_func called.\n")
    }

    /// `ebpf.json`'s example program is one slot of placeholder bytes: rejected, with a message.
    @Test func ebpfFixtureIsRejected() throws {
        let program = try fixtureProgram("ebpf.json", fd: "1")
        #expect(throws: VMError(.rejected, "unknown opcode 0xab", index: 0, instruction: "unknown 0xab")) {
            try VirtualMachine(program: program)
        }
    }
}

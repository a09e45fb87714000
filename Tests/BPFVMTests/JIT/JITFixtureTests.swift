import Foundation
import Testing
@testable import BPFVM

/// bpftime's own programs on the JIT: `malloc.json`'s `do_count` (map helpers, a `.rodata` format
/// string through `lddw map_value`, trace_printk), as the interpreter runs it.
@Suite struct JITFixtureTests {
    @Test func doCountCountsCallsPerPid() throws {
        let fixture = try FixtureProgramTests().load()
        var printed: [String] = []
        let jit = try JITProgram(program: fixture.program, maps: fixture.maps, options: VMOptions(trace: { printed.append($0) }))
        var memory = [UInt8](repeating: 0, count: 64)
        for _ in 0 ..< 100 { _ = try memory.withUnsafeMutableBytes { try jit.run(input: $0) } }
        let pid = UInt32(getpid())
        #expect(fixture.maps.value(fd: 3, key: key(pid)) == le64(100))
        #expect(printed == [String](repeating: "malloc called from pid \(pid)\n", count: 100))
    }
}

import TestSupport
import Testing
import BPFModel
@testable import BPFVM

/// Every access size, loads and stores, at every offset from 12 bytes before to 12 bytes after
/// each edge of each kind of region (input, current and caller stack frames at call depth 2, a
/// map value, a read-only one, one granted before the newest, a read-only global): the JIT's
/// inline and out-of-line checks allow and refuse exactly what the interpreter does, with the
/// same error.
@Suite struct JITBoundaryTests {
    static func maps() -> SegmentMaps {
        let maps = SegmentMaps()
        maps.addMap(fd: 3, MapInfo(kind: .hash, keySize: 4, valueSize: 24, maxEntries: 2))
        maps.addMap(fd: 4, MapInfo(kind: .array, keySize: 4, valueSize: 16, maxEntries: 1, readOnly: true))
        var k: UInt32 = 1
        var v = [UInt8](repeating: 0x5a, count: 24)
        _ = maps.update(fd: 3, key: &k, value: &v, flags: 0, cpu: 0)
        return maps
    }

    /// (name, code leaving a base address in r3, or nothing to use r10 itself, and the edge's
    /// offset from that base)
    static let edges: [(String, String, Int)] = [
        ("input start", "mov %r3, %r1", 0),
        ("input end", "mov %r3, %r1\nadd %r3, %r2", 0),
        ("frame bottom", "mov %r3, %r10", -512),
        ("frame bottom from r10", "", -512),
        ("caller frames' top", "mov %r3, %r10", 1024),
        ("caller frames' top from r10", "", 1024),
        ("map value start", "stw [%r10-4], 1\nlddw %r1, map_fd 3\nmov %r2, %r10\nadd %r2, -4\ncall 1\nmov %r3, %r0", 0),
        ("map value end", "stw [%r10-4], 1\nlddw %r1, map_fd 3\nmov %r2, %r10\nadd %r2, -4\ncall 1\nmov %r3, %r0", 24),
        // The newest granted region is checked inline: a read-only one, and an older one while a
        // newer one is the newest (refused or allowed by the full lookup, never by the inline check).
        ("read-only map value start", "stw [%r10-4], 0\nlddw %r1, map_fd 4\nmov %r2, %r10\nadd %r2, -4\ncall 1\nmov %r3, %r0", 0),
        ("read-only map value end", "stw [%r10-4], 0\nlddw %r1, map_fd 4\nmov %r2, %r10\nadd %r2, -4\ncall 1\nmov %r3, %r0", 16),
        ("older map value end", "stw [%r10-4], 1\nlddw %r1, map_fd 3\nmov %r2, %r10\nadd %r2, -4\ncall 1\nmov %r6, %r0\n"
            + "stw [%r10-4], 0\nlddw %r1, map_fd 4\nmov %r2, %r10\nadd %r2, -4\ncall 1\nmov %r3, %r6", 24),
        ("read-only global start", "lddw %r3, map_value 4+0", 0),
        ("read-only global end", "lddw %r3, map_value 4+15", 1),
    ]

    @Test(arguments: edges.map(\.0))
    func accessesAroundAnEdge(_ edge: String) throws {
        let (_, setup, edgeOffset) = try #require(Self.edges.first { $0.0 == edge })
        let base = setup.isEmpty ? "%r10" : "%r3"
        var allowed = 0, refused = 0
        for delta in -12 ... 12 {
            let offset = edgeOffset + delta
            let address = "[\(base)\(offset < 0 ? "" : "+")\(offset)]"
            for size in ["b", "h", "w", "dw"] {
                for access in ["ldx\(size) %r0, \(address)", "st\(size) \(address), 7\nmov %r0, 1"] {
                    // Run at call depth 2: two local calls lead to the access.
                    let text = "call local +1\nexit\ncall local +1\nexit\n\(setup)\n\(access)\nexit"
                    let runs = try differential(try TestAssembler.program(text), memory: [UInt8](repeating: 0xa5, count: 40), maps: Self.maps())
                    #expect(runs.jit == runs.interpreter, "\(edge) \(access): JIT \(runs.jit)\ninterpreter \(runs.interpreter)")
                    if runs.interpreter.r0 != nil { allowed += 1 } else { refused += 1 }
                }
            }
        }
        // Each edge has both sides.
        #expect(allowed > 0 && refused > 0, "\(edge): \(allowed) allowed, \(refused) refused")
    }
}

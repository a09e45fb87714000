import TestSupport
import Foundation
import Testing
import BPFModel
@testable import BPFVM

/// Helper-calling programs on the JIT and the interpreter (same VM, same maps): results, faults,
/// grants (ring-buffer records, map values) and revocations must agree. Each program leaves the
/// maps as it found them, so both engines start from the same state.
@Suite struct JITHelperTests {
    static func maps() -> SegmentMaps {
        let maps = SegmentMaps()
        maps.addMap(fd: 3, MapInfo(kind: .hash, keySize: 4, valueSize: 8, maxEntries: 4))
        maps.addMap(fd: 5, MapInfo(kind: .queue, keySize: 0, valueSize: 8, maxEntries: 2))
        maps.addMap(fd: 6, MapInfo(kind: .ringbuf, keySize: 0, valueSize: 0, maxEntries: 64))
        maps.addMap(fd: 7, MapInfo(kind: .percpuArray, keySize: 4, valueSize: 8, maxEntries: 1))
        return maps
    }

    static let reserve = "lddw %r1, map_fd 6\nmov %r2, 16\nmov %r3, 0\ncall 131\njeq %r0, 0, +6\nmov %r6, %r0\nstdw [%r6+8], 7\nmov %r1, %r6\nmov %r2, 0\n"

    static let programs: [String] = [
        // probe_read into the stack, from the input and from nowhere.
        "mov %r3, %r1\nmov %r1, %r10\nadd %r1, -8\nmov %r2, 8\ncall 4\njne %r0, 0, +1\nldxdw %r0, [%r10-8]\nexit",
        "stdw [%r10-8], -1\nmov %r1, %r10\nadd %r1, -8\nmov %r2, 8\nmov %r3, 64\ncall 113\nldxdw %r1, [%r10-8]\nadd %r0, %r1\nexit",
        "mov %r3, %r1\nmov %r1, 64\nmov %r2, 4\ncall 4\nexit",
        "mov %r3, %r1\nmov %r1, %r10\nadd %r1, -16\nmov %r2, 16\ncall 114\nldxdw %r1, [%r10-16]\nadd %r0, %r1\nexit",
        // A map value granted by a lookup, written, then the entry deleted again.
        "stw [%r10-4], 2\nstdw [%r10-16], 5\nlddw %r1, map_fd 3\nmov %r2, %r10\nadd %r2, -4\nmov %r3, %r10\nadd %r3, -16\nmov %r4, 0\ncall 2\n"
            + "lddw %r1, map_fd 3\nmov %r2, %r10\nadd %r2, -4\ncall 1\njeq %r0, 0, +6\nldxdw %r6, [%r0+0]\nmov %r7, 3\nlock fetch add [%r0+0], %r7\n"
            + "ldxdw %r6, [%r0+0]\nstxdw [%r10-24], %r6\nja +0\nlddw %r1, map_fd 3\nmov %r2, %r10\nadd %r2, -4\ncall 3\nldxdw %r0, [%r10-24]\nexit",
        // Queue: push two, a third does not fit, pop both.
        "stdw [%r10-8], 11\nlddw %r1, map_fd 5\nmov %r2, %r10\nadd %r2, -8\nmov %r3, 0\ncall 87\nlddw %r1, map_fd 5\nmov %r2, %r10\nadd %r2, -8\nmov %r3, 0\ncall 87\n"
            + "lddw %r1, map_fd 5\nmov %r2, %r10\nadd %r2, -8\nmov %r3, 0\ncall 87\nmov %r6, %r0\nlddw %r1, map_fd 5\nmov %r2, %r10\nadd %r2, -16\ncall 88\n"
            + "lddw %r1, map_fd 5\nmov %r2, %r10\nadd %r2, -16\ncall 88\nldxdw %r0, [%r10-16]\nadd %r0, %r6\nexit",
        // Ring-buffer records: written while reserved, discarded, not writable once discarded.
        reserve + "call 133\nmov %r0, 1\nexit",
        reserve + "mov %r0, 2\nja +0\nexit",                 // left reserved: dropped at the end
        "mov %r1, %r10\nadd %r1, -8\nmov %r2, 0\ncall 132\nexit",
        // Per-CPU array and system helpers whose results do not vary between runs.
        "stw [%r10-4], 0\nlddw %r1, map_fd 7\nmov %r2, %r10\nadd %r2, -4\ncall 1\njeq %r0, 0, +1\nldxdw %r0, [%r0+0]\nexit",
        "call 14\nmov %r6, %r0\ncall 15\nxor %r0, %r6\nexit",
        "mov %r1, %r10\nadd %r1, -16\nmov %r2, 16\ncall 16\nldxdw %r0, [%r10-16]\nexit",
        "call 174\nexit",
    ]

    @Test(arguments: programs)
    func matchesTheInterpreter(_ text: String) throws {
        let runs = try differential(try TestAssembler.program(text), memory: Array("hello\0world, JIT".utf8), maps: Self.maps())
        #expect(runs.jit == runs.interpreter, "JIT \(runs.jit)\ninterpreter \(runs.interpreter)")
    }

    /// A discarded record is no longer writable. Every reservation gets fresh memory, so the two
    /// runs fault at different addresses: the rest of the error must agree.
    @Test func aDiscardedRecordIsNotWritable() throws {
        let text = Self.reserve + "call 133\nstdw [%r6+0], 1\nmov %r0, 1\nexit"
        let runs = try differential(try TestAssembler.program(text), memory: [], maps: Self.maps())
        #expect(runs.jit.kind == .memoryViolation)
        #expect(runs.jit.error?.withoutAddresses == runs.interpreter.error?.withoutAddresses)
        #expect(runs.jit.error?.withoutAddresses.reason.hasSuffix("write of 8 bytes at 0x? is outside the memory the program may access") == true)
    }
}

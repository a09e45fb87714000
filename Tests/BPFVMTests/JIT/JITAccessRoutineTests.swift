import TestSupport
import Testing
import BPFModel
@testable import BPFVM

/// The out-of-line bounds checks are shared routines (one per access size and direction) that
/// many access sites call: every register survives an allowed access on each of the routine's
/// paths (stack frames, newest granted region, input, full lookup), and a refused access reports
/// its own slot, not that of another site calling the same routine.
@Suite struct JITAccessRoutineTests {
    /// r6 = a hash map value (granted first), r7 = a read-only array value (the newest grant),
    /// r8 = a copy of r10 (accesses through these miss the inline check), r9 = the input.
    static let setup = """
        mov %r9, %r1
        stw [%r10-4], 1
        lddw %r1, map_fd 3
        mov %r2, %r10
        add %r2, -4
        call 1
        mov %r6, %r0
        stw [%r10-4], 0
        lddw %r1, map_fd 4
        mov %r2, %r10
        add %r2, -4
        call 1
        mov %r7, %r0
        mov %r8, %r10
        mov %r0, 1
        mov %r2, 2
        mov %r3, 3
        mov %r4, 4
        mov %r5, 5
        mov %r1, 1
        """
    /// Each access adds what it read to r0, with the registers the routine must keep.
    static let accesses = """
        stdw [%r8-16], 16
        ldxdw %r3, [%r8-16]
        add %r0, %r3
        ldxdw %r3, [%r7+8]
        add %r0, %r3
        stdw [%r6+16], 40
        ldxdw %r3, [%r6+16]
        add %r0, %r3
        ldxdw %r3, [%r9+0]
        add %r0, %r3
        ldxw %r3, [%r8-16]
        add %r0, %r3
        add %r0, %r2
        add %r0, %r4
        add %r0, %r5
        add %r0, %r1
        mov %r3, %r8
        sub %r3, %r10
        add %r0, %r3
        ldxdw %r3, [%r6+16]
        add %r0, %r3
        ldxb %r3, [%r9+39]
        add %r0, %r3
        """

    @Test func registersSurviveEveryPathOfASharedCheck() throws {
        let text = "\(Self.setup)\n\(Self.accesses)\nexit"
        let runs = try differential(try TestAssembler.program(text), memory: [UInt8](repeating: 0xa5, count: 40),
                                    maps: JITBoundaryTests.maps())
        #expect(runs.jit == runs.interpreter, "JIT \(runs.jit)\ninterpreter \(runs.interpreter)")
        #expect(runs.interpreter.r0 != nil)
    }

    /// The same routine refuses at different sites: each fault names its own slot.
    @Test(arguments: ["ldxdw %r3, [%r6+24]", "ldxdw %r3, [%r8-520]", "stdw [%r7+0], 1", "ldxdw %r3, [%r9+40]"])
    func aRefusedAccessReportsItsOwnSlot(_ refused: String) throws {
        let text = "\(Self.setup)\n\(Self.accesses)\n\(refused)\nexit"
        let runs = try differential(try TestAssembler.program(text), memory: [UInt8](repeating: 0xa5, count: 40),
                                    maps: JITBoundaryTests.maps())
        #expect(runs.jit == runs.interpreter, "JIT \(runs.jit)\ninterpreter \(runs.interpreter)")
        #expect(runs.interpreter.kind == .memoryViolation, "\(runs.interpreter)")
    }
}

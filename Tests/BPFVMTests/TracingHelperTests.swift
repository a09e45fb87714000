import BPFModel
import Glibc
import Testing
@testable import BPFVM

@Suite struct TracingHelperTests {
    let input: [UInt8] = Array("hello\0world\0".utf8)

    @Test func probeWriteUserWritesOnlyWhereTheProgramMayWrite() throws {
        // Into the stack: allowed, the bytes arrive.
        let toStack = "mov %r2, %r1\nmov %r1, %r10\nadd %r1, -8\nmov %r3, 5\ncall 36\njne %r0, 0, +1\nldxw %r0, [%r10-8]\nexit"
        #expect(try execute(toStack, memory: input).r0 == UInt64(littleEndianBytes: Array("hell".utf8)))
        // Anywhere else (here: a plausible address the program was not given): -EFAULT, nothing written.
        #expect(try execute("mov %r2, %r1\nlddw %r1, 0x10000\nmov %r3, 4\ncall 36\nexit", memory: input).r0 == UInt64(bitPattern: -14))
    }

    @Test func strncmpComparesAgainstAReadableString() throws {
        // s1 = "hello" (input), s2 = "help" on the stack.
        let setup = "stw [%r10-8], 0x706c6568\nstw [%r10-4], 0\nmov %r3, %r10\nadd %r3, -8\n"
        #expect(try execute(setup + "mov %r2, 3\ncall 182\nexit", memory: input).r0 == 0)
        #expect(Int64(bitPattern: try execute(setup + "mov %r2, 5\ncall 182\nexit", memory: input).r0) == Int64(UInt8(ascii: "l")) - Int64(UInt8(ascii: "p")))
        let error = failure("mov %r3, 64\nmov %r2, 3\ncall 182\nexit", memory: input)
        #expect(error?.kind == .helperFault)
    }

    @Test func funcIPComesFromThePtRegsContext() throws {
        var regs = [UInt8](repeating: 0, count: X86PTRegs.size)
        withUnsafeBytes(of: UInt64(0x4000_1234).littleEndian) { regs.replaceSubrange(X86PTRegs.ip ..< X86PTRegs.ip + 8, with: $0) }
        #expect(try execute("call 173\nexit", memory: regs).r0 == 0x4000_1234)
        #expect(try execute("call 173\nexit", memory: [1, 2, 3]).r0 == 0)
    }

    @Test func coarseClockAndDocumentedErrors() throws {
        let t0 = SystemHelpers.nanoseconds(CLOCK_MONOTONIC_COARSE)
        #expect(try execute("call 160\nexit", varying: .r0).r0 >= t0)
        // get_stack without BPF_F_USER_STACK asks for a kernel stack: -EFAULT, the buffer zeroed.
        let stack = "stdw [%r10-8], -1\nmov %r2, %r10\nadd %r2, -8\nmov %r3, 8\nmov %r4, 0\ncall 67\nldxdw %r1, [%r10-8]\nadd %r0, %r1\nexit"
        #expect(try execute(stack).r0 == UInt64(bitPattern: -14))
        for id in [44, 65] { #expect(try execute("call \(id)\nexit").r0 == UInt64(bitPattern: -95), "helper \(id)") }
        // perf_event_output writes into a perf_event_array (PerfEventOutputTests); a non-map faults.
        #expect(throws: (any Error).self) { try execute("call 25\nexit") }
    }

    @Test func helpersBpftimeHasAndThisVMLacksAreNamed() throws {
        #expect(try rejection("call 186\nexit") == "instruction 0 (call 186): unknown helper 186 (bpf_get_retval)")
        #expect(try rejection("call 28\nexit") == "instruction 0 (call 28): unknown helper 28 (bpf_csum_diff)")
    }

    @Test func overrideReturnAndSetRetvalRecordTheLastValueOnBothEngines() throws {
        let machine = try TestMachine(program: TestAssembler.program(
            "mov %r2, 42\ncall 58\nmov %r6, %r0\nlddw %r1, 0x123456789\ncall 187\nadd %r0, %r6\nexit"))
        let runs = machine.outcomes([UInt8](repeating: 0, count: X86PTRegs.size))
        #expect(runs.interpreter.r0 == 0)
        #expect(runs.interpreter.returnOverride == 0x1_2345_6789)
        if let jit = runs.jit { #expect(jit == runs.interpreter) }
        let once = try TestMachine(program: TestAssembler.program("mov %r2, -1\ncall 58\nexit"))
        #expect(once.outcomes([]).interpreter.returnOverride == UInt64.max)
        if let jit = once.outcomes([]).jit { #expect(jit.returnOverride == UInt64.max) }
    }

    @Test func aRunWithoutOverrideReportsNoneEvenAfterOneThatOverrode() throws {
        // r1 = 1: override with 7; r1 = 0: return without calling the helper.
        let machine = try TestMachine(program: TestAssembler.program("jeq %r2, 0, +2\nmov %r2, 7\ncall 58\nmov %r0, 0\nexit"))
        #expect(machine.outcomes([1]).interpreter.returnOverride == 7)
        let second = machine.outcomes([])
        #expect(second.interpreter.returnOverride == nil)
        if let jit = second.jit { #expect(jit.returnOverride == nil) }
    }
}

import TestSupport
import Testing
import BPFModel
@testable import BPFVM

/// Programs that try to escape their memory, overflow the call stack or hand helpers bad pointers:
/// on the JIT they end with exactly the interpreter's error (same message, same instruction),
/// never a crash, and leave memory as the interpreter does.
@Suite struct JITFaultTests {
    struct Case: CustomStringConvertible, Sendable {
        let name: String
        let text: String
        var memory: [UInt8] = []
        var kind: VMError.Kind?
        var maxInstructions: UInt64?
        /// Options made for each run: a `VMOptions` holds a helper table, which runs do not share.
        var options: VMOptions { VMOptions(maxInstructions: maxInstructions) }
        var description: String { name }
    }

    /// Maps for the helper cases: a hash map (3) and a read-only array whose value is a global (4).
    static func maps() -> SegmentMaps {
        let maps = SegmentMaps()
        maps.addMap(fd: 3, MapInfo(kind: .hash, keySize: 4, valueSize: 8, maxEntries: 4))
        maps.addMap(fd: 4, MapInfo(kind: .array, keySize: 4, valueSize: 16, maxEntries: 1, readOnly: true))
        var k: UInt32 = 1, v: UInt64 = 7
        _ = maps.update(fd: 3, key: &k, value: &v, flags: 0, cpu: 0)
        return maps
    }

    static let cases: [Case] = [
        Case(name: "load past the input through a computed pointer",
             text: "mov %r3, %r1\nadd %r3, %r2\nldxb %r0, [%r3+0]\nexit", memory: [1, 2, 3, 4], kind: .memoryViolation),
        Case(name: "load straddling the end of the input", text: "ldxw %r0, [%r1+2]\nexit", memory: [1, 2, 3, 4], kind: .memoryViolation),
        Case(name: "store below the frame at a constant offset", text: "stdw [%r10-520], 1\nmov %r0, 0\nexit", kind: .memoryViolation),
        Case(name: "store above the entry frame", text: "mov %r1, 1\nstxdw [%r10+0], %r1\nmov %r0, 0\nexit", kind: .memoryViolation),
        Case(name: "store below the frame through a computed pointer",
             text: "mov %r2, %r10\nadd %r2, -516\nstw [%r2+0], 7\nmov %r0, 0\nexit", kind: .memoryViolation),
        Case(name: "computed pointer into the input", text: "mov %r2, %r1\nadd %r2, 3\nstb [%r2+0], 9\nldxw %r0, [%r1+0]\nexit",
             memory: [1, 2, 3, 4]),
        Case(name: "null pointer", text: "mov %r1, 0\nldxdw %r0, [%r1+0]\nexit", kind: .memoryViolation),
        Case(name: "all-ones pointer", text: "lddw %r1, 0xffffffffffffffff\nldxdw %r0, [%r1+0]\nexit", kind: .memoryViolation),
        Case(name: "pointer wrapping around the address space",
             text: "lddw %r1, 0xfffffffffffffffc\nstxdw [%r1+0], %r1\nmov %r0, 0\nexit", kind: .memoryViolation),
        Case(name: "pointer just below the input", text: "mov %r2, %r1\nadd %r2, -1\nldxh %r0, [%r2+0]\nexit",
             memory: [1, 2, 3, 4, 5, 6, 7, 8], kind: .memoryViolation),
        Case(name: "atomic through a shifted stack pointer",
             text: "mov %r1, %r10\nlsh %r1, 1\nlock add [%r1+0], %r1\nmov %r0, 0\nexit", kind: .memoryViolation),
        Case(name: "misaligned atomic", text: "mov %r1, 1\nlock add [%r10-12], %r1\nmov %r0, 0\nexit", kind: .memoryViolation),
        Case(name: "callee below its frame", text: "call local +1\nexit\nstdw [%r10-520], 1\nexit", kind: .memoryViolation),
        Case(name: "callee reads its caller's frame",
             text: "stdw [%r10-8], 42\ncall local +1\nexit\nldxdw %r0, [%r10+504]\nexit"),
        Case(name: "callee writes its caller's frame through a pointer",
             text: "call local +2\nldxdw %r0, [%r10-16]\nexit\nmov %r3, %r10\nstdw [%r3+496], 5\nexit"),
        Case(name: "unbounded recursion", text: "mov %r0, 0\ncall local +1\nexit\nadd %r0, 1\ncall local -2\nexit", kind: .stackOverflow),
        Case(name: "recursion within the depth limit",
             text: "mov %r6, 6\ncall local +1\nexit\nadd %r0, %r6\nsub %r6, 1\njeq %r6, 0, +1\ncall local -5\nexit"),
        Case(name: "unknown helper through callx", text: "mov %r2, 99\ncall %r2\nexit", kind: .unknownHelper),
        Case(name: "negative helper id through callx", text: "mov %r2, -1\ncall %r2\nexit", kind: .unknownHelper),
        Case(name: "helper through callx", text: "mov %r2, 7\ncall %r2\nmov %r0, 1\nexit"),
        Case(name: "budget exhausted in a loop", text: "mov %r0, 0\nadd %r0, 1\nja -2", kind: .budgetExceeded,
             maxInstructions: 100),
        Case(name: "budget exactly enough", text: "mov %r0, 1\nadd %r0, 1\nexit", maxInstructions: 3),
        Case(name: "budget one short", text: "mov %r0, 1\nadd %r0, 1\nexit", kind: .budgetExceeded, maxInstructions: 2),
        Case(name: "helper with a bad key pointer", text: "lddw %r1, map_fd 3\nmov %r2, 4096\ncall 1\nexit", kind: .helperFault),
        Case(name: "helper key running past the stack top",
             text: "lddw %r1, map_fd 3\nmov %r2, %r10\nadd %r2, -2\ncall 1\nexit", kind: .helperFault),
        Case(name: "helper given a non-map", text: "mov %r1, 3\nmov %r2, %r10\ncall 1\nexit", kind: .helperFault),
        Case(name: "map value read and written in bounds",
             text: "stw [%r10-4], 1\nlddw %r1, map_fd 3\nmov %r2, %r10\nadd %r2, -4\ncall 1\njeq %r0, 0, +3\n"
                 + "ldxdw %r1, [%r0+0]\nstxdw [%r0+0], %r1\nldxdw %r0, [%r0+0]\nexit"),
        Case(name: "map value read past its end",
             text: "stw [%r10-4], 1\nlddw %r1, map_fd 3\nmov %r2, %r10\nadd %r2, -4\ncall 1\njeq %r0, 0, +1\nldxdw %r0, [%r0+1]\nexit",
             kind: .memoryViolation),
        Case(name: "read-only global read", text: "lddw %r1, map_value 4+8\nldxdw %r0, [%r1+0]\nexit"),
        Case(name: "read-only global written", text: "lddw %r1, map_value 4+0\nstdw [%r1+8], 1\nmov %r0, 0\nexit", kind: .memoryViolation),
        Case(name: "read-only global written atomically",
             text: "lddw %r1, map_value 4+0\nmov %r2, 1\nlock add [%r1+0], %r2\nmov %r0, 0\nexit", kind: .memoryViolation),
        Case(name: "read-only global read past its end", text: "lddw %r1, map_value 4+8\nldxdw %r0, [%r1+4]\nexit", kind: .memoryViolation),
    ]

    @Test(arguments: cases)
    func endsLikeTheInterpreter(_ c: Case) throws {
        let runs = try differential(try TestAssembler.program(c.text), memory: c.memory, maps: Self.maps(), options: c.options)
        #expect(runs.jit == runs.interpreter, "JIT \(runs.jit)\ninterpreter \(runs.interpreter)")
        #expect(runs.jit.kind == c.kind, "\(runs.jit)")
    }

    @Test func callDepthLimitsBeyondTheMachineStackAreRefused() throws {
        let program = try TestAssembler.program("mov %r0, 0\nexit")
        #expect(throws: JITError.self) { try JITProgram(program: program, options: VMOptions(maxCallDepth: 100_000)) }
        #expect(throws: JITError.self) { try AOTImage(machine: VirtualMachine(program: program, options: VMOptions(maxCallDepth: 100_000))) }
        // Deep recursion at the largest accepted limit ends with the interpreter's error.
        let recursion = try TestAssembler.program("mov %r0, 0\ncall local +1\nexit\nadd %r0, 1\ncall local -2\nexit")
        let runs = try differential(recursion, memory: [], options: VMOptions(maxCallDepth: JITCompiler.maxCallDepth))
        #expect(runs.jit == runs.interpreter)
        #expect(runs.jit.kind == .stackOverflow)
    }

    @Test func theProgramIsReusableAfterAFault() throws {
        let jit = try JITProgram(program: try TestAssembler.program("ldxb %r0, [%r1+4]\nexit"))
        var short: [UInt8] = [1, 2, 3]
        #expect(throws: VMError.self) { try short.withUnsafeMutableBytes { try jit.run(input: $0) } }
        var long: [UInt8] = [1, 2, 3, 4, 5]
        #expect(try long.withUnsafeMutableBytes { try jit.run(input: $0) } == 5)
    }

    @Test func faultDeepInsideCallsUnwindsCleanly() throws {
        // Fault at depth 3; the next run starts at depth 0 with the whole stack available.
        let text = "call local +1\nexit\ncall local +1\nexit\ncall local +1\nexit\njeq %r1, 0, +1\nldxdw %r0, [%r1+100]\nmov %r0, 3\nexit"
        let jit = try JITProgram(program: try TestAssembler.program(text))
        var memory = [UInt8](repeating: 0, count: 8)
        #expect(throws: VMError.self) { try memory.withUnsafeMutableBytes { try jit.run(input: $0) } }
        #expect(jit.machine.state.pointee.callDepth == 3)
        #expect(try jit.run(input: UnsafeMutableRawBufferPointer(start: nil, count: 0)) == 3)
        #expect(jit.machine.state.pointee.callDepth == 0)
    }
}

/// Tail calls and map-writing programs, each engine on its own maps in the same starting state.
@Suite struct JITTailCallTests {
    static func maps(target: String?) throws -> SegmentMaps {
        let maps = SegmentMaps()
        maps.addMap(fd: 3, MapInfo(kind: .progArray, keySize: 4, valueSize: 4, maxEntries: 4))
        maps.addMap(fd: 4, MapInfo(kind: .array, keySize: 4, valueSize: 8, maxEntries: 1))
        if let target { maps.setProgram(try TestAssembler.program(target), at: 0, in: 3) }
        return maps
    }

    /// r0 (or the error) and map 4's value after a run on `engine`.
    func outcome(_ text: String, target: String?, memory: [UInt8], jit: Bool) throws -> (String, [UInt8]?) {
        let maps = try Self.maps(target: target)
        let program = try TestAssembler.program(text == "self" ? target ?? "" : text)
        if text == "self" { maps.setProgram(program, at: 0, in: 3) }
        let vm = try VirtualMachine(program: program, maps: maps)
        var copy = memory
        let result: String
        do {
            if jit {
                let compiled = try JITProgram(machine: vm)
                result = "\(try copy.withUnsafeMutableBytes { try compiled.run(input: $0) })"
            } else {
                result = "\(try copy.withUnsafeMutableBytes { try vm.run(input: $0) })"
            }
        } catch {
            result = "\(error)"
        }
        return (result, maps.value(fd: 4, key: key(0)))
    }

    static let tailCall = "mov %r6, %r1\nlddw %r2, map_fd 3\nmov %r3, 0\ncall 12\n"

    @Test(arguments: [
        (tailCall + "mov %r0, 1\nexit", "ldxb %r0, [%r1+0]\nadd %r0, 40\nexit"),  // r1 unchanged in the target
        (tailCall + "exit", nil),                                                 // missing entry: -ENOENT
        (tailCall + "exit", "mov %r10, 0\nexit"),                                 // rejected target
        ("call local +1\nexit\n" + tailCall + "exit", "mov %r0, 42\nexit"),        // not from a local call
        (tailCall + "exit", "mov %r2, 8\nldxdw %r0, [%r2+0]\nexit"),                // the target faults
        ("self", "lddw %r7, map_value 4+0\nmov %r8, 1\nlock add [%r7+0], %r8\nlddw %r2, map_fd 3\nmov %r3, 0\ncall 12\nldxdw %r0, [%r7+0]\nexit"),
    ] as [(String, String?)])
    func tailCallsMatchTheInterpreter(_ text: String, _ target: String?) throws {
        let interpreted = try outcome(text, target: target, memory: [2], jit: false)
        let compiled = try outcome(text, target: target, memory: [2], jit: true)
        #expect(compiled.0 == interpreted.0)
        #expect(compiled.1 == interpreted.1)
    }

    /// Registers go through tail calls as in the interpreter (JITCompiler+Entry): r8, which only the
    /// targets name, reaches the second target, and is zero again when the entry program (which
    /// never names it) tail-calls that target directly, whatever an earlier run left in the context.
    @Test func registersGoThroughTailCallsAsInTheInterpreter() throws {
        let maps = try Self.maps(target: "mov %r8, 9\nlddw %r2, map_fd 3\nmov %r3, 1\ncall 12\nexit")
        maps.setProgram(try TestAssembler.program("mov %r0, %r8\nexit"), at: 1, in: 3)
        let vm = try VirtualMachine(program: try TestAssembler.program("ldxb %r4, [%r1+0]\nlddw %r2, map_fd 3\nmov %r3, %r4\ncall 12\nexit"),
                                    maps: maps)
        let jit = try JITProgram(machine: vm)
        for (slot, expected) in [(UInt8(0), UInt64(9)), (1, 0), (0, 9), (1, 0)] {
            var input = [slot]
            #expect(try input.withUnsafeMutableBytes { try vm.run(input: $0) } == expected, "interpreter, slot \(slot)")
            #expect(try input.withUnsafeMutableBytes { try jit.run(input: $0) } == expected, "JIT, slot \(slot)")
        }
    }

    /// The other way round: r8, which only the entry program and the last target name, keeps its
    /// value through a target that never names it.
    @Test func aTargetPassesOnRegistersItNeverNames() throws {
        let maps = try Self.maps(target: "lddw %r2, map_fd 3\nmov %r3, 1\ncall 12\nexit")
        maps.setProgram(try TestAssembler.program("mov %r0, %r8\nexit"), at: 1, in: 3)
        let vm = try VirtualMachine(program: try TestAssembler.program("mov %r8, 9\nlddw %r2, map_fd 3\nmov %r3, 0\ncall 12\nexit"),
                                    maps: maps)
        var input: [UInt8] = []
        #expect(try input.withUnsafeMutableBytes { try vm.run(input: $0) } == 9)
        #expect(try input.withUnsafeMutableBytes { try JITProgram(machine: vm).run(input: $0) } == 9)
    }

    @Test func tailCallsRunTheirTargets() throws {
        #expect(try outcome(Self.tailCall + "mov %r0, 1\nexit", target: "ldxb %r0, [%r1+0]\nadd %r0, 40\nexit", memory: [2], jit: true).0 == "42")
        let selfCalling = "lddw %r7, map_value 4+0\nmov %r8, 1\nlock add [%r7+0], %r8\nlddw %r2, map_fd 3\nmov %r3, 0\ncall 12\nldxdw %r0, [%r7+0]\nexit"
        let (r0, global) = try outcome("self", target: selfCalling, memory: [], jit: true)
        #expect(r0 == "34")
        #expect(global == le64(34))
    }
}

import Foundation
@testable import BPFVM

/// What a run leaves behind: r0 or the error, the input memory and the stack afterwards, and the
/// executed-instruction count when a budget makes the JIT count.
struct RunOutcome: Equatable, CustomStringConvertible {
    var r0: UInt64?
    var error: String?
    var kind: VMError.Kind?
    var memory: [UInt8]
    var stack: [UInt8]
    var executed: UInt64?

    var description: String {
        let result = r0.map { "r0 = 0x\(String($0, radix: 16))" } ?? "error: \(error ?? "?")"
        return "\(result), executed \(executed.map(String.init) ?? "-"), memory \(memory), stack hash \(stack.hashValue)"
    }
}

/// Runs `program` on the interpreter, then on the JIT compiled from the same `VirtualMachine`, so
/// both see the same stack, input and map addresses (pointers may flow into r0 and memory). Each
/// run starts from a zeroed stack and a fresh copy of `memory` at the same address.
/// `compile` makes the machine-code side (JIT by default, or AOT).
func differential(_ program: Program, memory: [UInt8], maps: MapBackend? = nil, options: VMOptions = VMOptions(),
                  compile: (VirtualMachine) throws -> JITProgram = { try JITProgram(machine: $0) }) throws
    -> (interpreter: RunOutcome, jit: RunOutcome) {
    let vm = try VirtualMachine(program: program, maps: maps, options: options)
    let jit = try compile(vm)
    let input = UnsafeMutableRawBufferPointer.allocate(byteCount: max(memory.count, 1), alignment: 16)
    defer { input.deallocate() }
    let buffer = UnsafeMutableRawBufferPointer(rebasing: input[0 ..< memory.count])
    func run(_ body: (UnsafeMutableRawBufferPointer) throws -> UInt64) -> RunOutcome {
        vm.stack.initializeMemory(as: UInt8.self, repeating: 0)
        buffer.copyBytes(from: memory)
        var outcome = RunOutcome(memory: [], stack: [])
        do {
            outcome.r0 = try body(memory.isEmpty ? UnsafeMutableRawBufferPointer(start: nil, count: 0) : buffer)
        } catch {
            outcome.error = "\(error)"
            outcome.kind = (error as? VMError)?.kind
        }
        outcome.memory = Array(buffer)
        outcome.stack = Array(vm.stack)
        if options.maxInstructions != nil { outcome.executed = vm.executedInstructions }
        return outcome
    }
    let interpreted = run { try vm.run(input: $0) }
    let compiled = run { try jit.run(input: $0) }
    return (interpreted, compiled)
}

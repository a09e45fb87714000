import TestSupport
import Foundation
import Testing
@testable import BPFVM

/// One run of `program` on the interpreter and on the JIT (see `TestMachine.outcomes`), for tests
/// that look at both outcomes themselves. `compile` makes the machine-code side (JIT by default, or AOT).
func differential(_ program: Program, memory: [UInt8], maps: SegmentMaps? = nil, options: VMOptions = VMOptions(),
                  compile: (VirtualMachine) throws -> JITProgram = { try JITProgram(machine: $0) }) throws
    -> (interpreter: RunOutcome, jit: RunOutcome) {
    let runs = try TestMachine(program: program, maps: maps, options: options, compile: compile).outcomes(memory)
    guard let jit = runs.jit else { throw JITError.unsupportedArchitecture(what: "JIT") }
    return (runs.interpreter, jit)
}

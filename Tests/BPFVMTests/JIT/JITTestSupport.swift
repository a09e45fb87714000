import Foundation
@testable import BPFVM

/// What a run leaves behind: r0 or the error, the input memory and the stack afterwards.
struct RunOutcome: Equatable, CustomStringConvertible {
    var r0: UInt64?
    var error: String?
    var memory: [UInt8]
    var stack: [UInt8]

    var description: String {
        let result = r0.map { "r0 = 0x\(String($0, radix: 16))" } ?? "error: \(error ?? "?")"
        return "\(result), memory \(memory.count) bytes, stack hash \(stack.hashValue)"
    }
}

enum Engine { case interpreter, jit }

/// Runs `program` on `engine` with a private copy of `memory`. Validation errors count as outcomes.
func outcome(_ program: Program, on engine: Engine, memory: [UInt8], maps: MapBackend? = nil,
             options: VMOptions = VMOptions()) -> RunOutcome {
    var copy = memory
    do {
        switch engine {
        case .interpreter:
            let vm = try VirtualMachine(program: program, maps: maps, options: options)
            let r0 = try copy.withUnsafeMutableBytes { try vm.run(input: $0) }
            return RunOutcome(r0: r0, memory: copy, stack: Array(vm.stack))
        case .jit:
            let jit = try JITProgram(program: program, maps: maps, options: options)
            let r0 = try copy.withUnsafeMutableBytes { try jit.run(input: $0) }
            return RunOutcome(r0: r0, memory: copy, stack: Array(jit.machine.stack))
        }
    } catch {
        return RunOutcome(error: "\(error)", memory: copy, stack: [])
    }
}

import BPFVM

/// Why a segment's program cannot be read, checked or run. Messages say what is wrong; the
/// command line adds how to fix it with its own commands.
public enum RuntimeError: Error, CustomStringConvertible, Equatable, Sendable {
    case notAProgram(fd: Int, segment: String)
    /// The validator refused a program (or its bytecode does not decode).
    case invalidProgram(name: String, fd: Int, reason: VMError)
    /// `run` as AOT of a program that has no native code stored.
    case aotMissing(fd: Int)
    /// AOT code has no instruction counter, so a budget cannot be honoured.
    case aotWithBudget
    /// Stored native code refused by the JIT (stale, damaged): it never runs.
    case aotStale(fd: Int, reason: JITError)
    /// Native code that is not what this build compiles for the program's bytecode.
    case aotUntrusted(fd: Int)

    public var description: String {
        switch self {
        case .notAProgram(let fd, let segment):
            "fd \(fd) is not a program in segment \(segment)"
        case .invalidProgram(let name, let fd, let reason):
            "program \(name) (fd \(fd)): \(reason)"
        case .aotMissing(let fd):
            "AOT instructions not found for fd \(fd): it was never compiled ahead of time"
        case .aotWithBudget:
            "AOT code runs without an instruction budget: only the interpreter and the JIT count instructions"
        case .aotStale(let fd, let reason):
            "AOT code for fd \(fd) is stale: \(reason)"
        case .aotUntrusted(let fd):
            "fd \(fd): attr.aot_insns is not the native code this build compiles for attr.insns "
                + "(other bytecode, another build, or altered); remove the field and compile it again once imported"
        }
    }
}

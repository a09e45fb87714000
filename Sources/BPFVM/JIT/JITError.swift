import Glibc

/// A program the JIT cannot compile or run here (not a fault of the program's own run).
public enum JITError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Native code is made for x86-64 only; `what` is "JIT" or "AOT compilation".
    case unsupportedArchitecture(what: String)
    case callDepthLimit(requested: Int, supported: Int)
    case tooManyMapLoads
    /// Stored native code that was compiled for other bytecode, helpers or options.
    case staleImage
    /// Stored native code asked to run with an instruction budget it cannot count.
    case imageWithBudget
    /// Stored native code that does not parse or does not fit its program.
    case corruptImage(String)
    /// The operating system refused executable memory.
    case executableMemory(operation: String, bytes: Int, errno: Int32)
    /// A state the compiler should never reach.
    case internalError(String)

    /// True for the refusals of stored AOT code (stale, budgeted or corrupt): a fresh
    /// compilation fixes them.
    public var refusesStoredImage: Bool {
        switch self {
        case .staleImage, .imageWithBudget, .corruptImage: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .unsupportedArchitecture(let what): "\(what) is only available on x86-64"
        case .callDepthLimit(let requested, let supported): "the JIT supports call-depth limits up to \(supported), not \(requested)"
        case .tooManyMapLoads: "too many map loads for AOT code"
        case .staleImage: "AOT instructions are stale: they were compiled for other bytecode, helpers or options"
        case .imageWithBudget: "AOT instructions cannot run with an instruction budget"
        case .corruptImage(let detail): "AOT instructions are corrupt: \(detail)"
        case .executableMemory(let operation, let bytes, let code): "cannot \(operation) \(bytes) bytes of JIT code: \(String(cString: strerror(code)))"
        case .internalError(let detail): "internal error: \(detail)"
        }
    }
}

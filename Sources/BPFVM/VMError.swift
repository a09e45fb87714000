/// Why a program was rejected or a run ended abnormally. `description` is the one-line message:
/// `instruction 3 (mov %r10, 1): r10 is read-only`.
public struct VMError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// Bytecode that does not decode (size, truncated lddw).
        case malformed
        /// The validator refused the program.
        case rejected
        /// A load, store or atomic outside every region the program may use.
        case memoryViolation
        /// A call to a helper id with no entry in the table (callx, tail-called programs).
        case unknownHelper
        /// Local calls nested deeper than the call-depth limit.
        case stackOverflow
        /// The run executed more instructions than `maxInstructions`.
        case budgetExceeded
        /// A helper refused its arguments (e.g. a pointer outside the program's memory).
        case helperFault
    }

    public let kind: Kind
    /// Slot index of the instruction at fault, when there is one.
    public let index: Int?
    /// The instruction, disassembled.
    public let instruction: String?
    public let reason: String

    public init(_ kind: Kind, _ reason: String, index: Int? = nil, instruction: String? = nil) {
        self.kind = kind
        self.reason = reason
        self.index = index
        self.instruction = instruction
    }

    public var description: String {
        guard let index else { return reason }
        return "instruction \(index) (\(instruction ?? "?")): \(reason)"
    }
}

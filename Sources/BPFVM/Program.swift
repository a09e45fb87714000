/// An eBPF program as decoded slots. Index `i` is slot `i` of the bytecode; an `lddw` occupies
/// slots `i` (low 32 bits of the value in `imm`) and `i + 1` (high 32 bits in `imm`).
public struct Program: Hashable, Sendable {
    public let instructions: [Instruction]

    public init(bytecode: [UInt8]) throws {
        guard !bytecode.isEmpty else { throw VMError(.malformed, "the program is empty") }
        guard bytecode.count % 8 == 0 else {
            throw VMError(.malformed, "the bytecode is \(bytecode.count) bytes, not a multiple of 8")
        }
        instructions = stride(from: 0, to: bytecode.count, by: 8).map { Instruction(slot: bytecode, at: $0) }
    }

    public init(instructions: [Instruction]) {
        self.instructions = instructions
    }

    public var bytecode: [UInt8] { instructions.flatMap(\.bytes) }

    /// The 64-bit value of the `lddw` at `index`; `nil` when `index` is not a complete `lddw`.
    public func wideImmediate(at index: Int) -> UInt64? {
        guard index >= 0, index + 1 < instructions.count, instructions[index].isWide else { return nil }
        return Self.wideValue(instructions[index], instructions[index + 1])
    }

    static func wideValue(_ low: Instruction, _ high: Instruction) -> UInt64 {
        UInt64(UInt32(bitPattern: low.imm)) | UInt64(UInt32(bitPattern: high.imm)) << 32
    }
}

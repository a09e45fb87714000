/// A program the JIT cannot compile or run here (not a fault of the program's own run).
public struct JITError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Why an object file cannot be loaded: a malformed file, or a feature this loader does not
/// support. The message names the section, instruction or symbol at fault.
public struct ObjectError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

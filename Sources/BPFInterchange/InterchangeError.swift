import BPFJSON

/// A document that cannot be read: says where (fd and field, or line and column) and what.
///
/// Examples: `fd 5: attr.insns: odd-length hex`, `line 3 column 7: unexpected end of input`.
public struct InterchangeError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The handler the problem is in, when known.
    public var fd: Int?
    /// The field path inside the handler (`attr.insns`, `data["0a000000"]`), when there is one.
    public var field: String?
    /// Position of a syntax error (1-based, column counted in bytes).
    public var line: Int?
    public var column: Int?
    /// What is wrong.
    public var message: String

    public init(fd: Int? = nil, field: String? = nil, line: Int? = nil, column: Int? = nil, _ message: String) {
        self.fd = fd
        self.field = field
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        var parts: [String] = []
        if let line, let column { parts.append("line \(line) column \(column)") }
        if let fd { parts.append("fd \(fd)") }
        // A predicate reads on from its field: "attr.cnt is 55 but insns hold 54 instructions".
        if let field { parts.append(message.hasPrefix("is ") ? "\(field) \(message)" : "\(field): \(message)") }
        else { parts.append(message) }
        return parts.joined(separator: ": ")
    }
}

extension InterchangeError {
    /// Runs `body`, turning the JSON reader's syntax errors into this error's line and column.
    static func locating<R>(_ body: () throws -> R) throws -> R {
        do {
            return try body()
        } catch let error as JSONSyntaxError {
            throw InterchangeError(line: error.line, column: error.column, error.message)
        }
    }
}

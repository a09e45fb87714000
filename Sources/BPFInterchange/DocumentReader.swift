import BPFJSON
import BPFModel

/// Reads a whole document: the fd-keyed object, the `{"handlers": [...]}` form, or both mixed.
struct DocumentReader {
    let source: JSONSource

    func read() throws -> [HandlerRecord] {
        try InterchangeError.locating { try readDocument() }
    }

    func readSingle(fd: Int) throws -> Handler {
        try InterchangeError.locating {
            var scanner = JSONScanner.document(source)
            let members = try scanner.parseHandlerObject(depth: 0)
            try scanner.expectEnd()
            return try handler(fd: fd, members)
        }
    }

    private func readDocument() throws -> [HandlerRecord] {
        var scanner = JSONScanner.document(source)
        scanner.skipWhitespace()
        // nlohmann dumps an empty state as `null`.
        if scanner.peek() == UInt8(ascii: "n") {
            try scanner.scanLiteral("null")
            try scanner.expectEnd()
            return []
        }
        var records: [HandlerRecord] = []
        var seen = Set<Int>()
        func add(_ fd: Int, _ members: [JSONMember]) throws {
            guard seen.insert(fd).inserted else { throw InterchangeError(fd: fd, "duplicate fd") }
            records.append(HandlerRecord(fd: fd, handler: try handler(fd: fd, members)))
        }
        try scanner.enter(UInt8(ascii: "{"), depth: 0)
        var first = true
        while let key = try scanner.nextMember(&first) {
            if source.equals(key, "handlers") {
                try scanner.enter(UInt8(ascii: "["), depth: 1)
                var firstHandler = true, index = 0
                while try scanner.nextElement(&firstHandler) {
                    let members = try scanner.parseHandlerObject(depth: 2)
                    let fields = JSONFields(source: source, members: members, path: "handlers[\(index)].")
                    try add(try fields.fd(try fields.required("fd"), field: "fd"), members)
                    index += 1
                }
            } else {
                let fd = try fdKey(key)
                try add(fd, try scanner.parseHandlerObject(depth: 1))
            }
        }
        try scanner.expectEnd()
        return records.sorted { $0.fd < $1.fd }
    }

    private func handler(fd: Int, _ members: [JSONMember]) throws -> Handler {
        do {
            return try InterchangeError.locating { try HandlerReader(source, members).read() }
        } catch var error as InterchangeError {
            error.fd = fd
            throw error
        }
    }

    /// A top-level key: a decimal fd (digits only, within 32 bits, like a real fd).
    private func fdKey(_ key: JSONString) throws -> Int {
        let text = source.bytes(of: key)
        var fd = 0
        for c in text {
            let digit = Int(c) - Int(UInt8(ascii: "0"))
            guard (0...9).contains(digit), fd <= (Int(Int32.max) - digit) / 10 else { fd = -1; break }
            fd = fd * 10 + digit
        }
        guard fd >= 0, !text.isEmpty else {
            let shown = String(decoding: text.prefix(40), as: UTF8.self)
            throw InterchangeError(field: "\"\(shown)\"", "not an fd (a non-negative decimal integer below 2^31)")
        }
        return fd
    }
}

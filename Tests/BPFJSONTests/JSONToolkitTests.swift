import BPFJSON
import Testing

/// The one JSON writer and reader: `JSONText`'s two layouts byte for byte (the compact one is the
/// history's stored attribute text, which is hashed), and the reader's values and error positions.
@Suite struct JSONToolkitTests {
    static let value = JSONText.object([
        ("a", .int(-1)), ("b", .array([])), ("c", .object([])),
        ("d", .array([.uint(.max), .string("x\"\n\u{1}/é"), .bool(true), .null, .double(1.5)])),
        ("e", .object([("f", .int(Int64.min))])),
    ])

    @Test func compactHasNoWhiteSpace() {
        #expect(Self.value.compact
            == #"{"a":-1,"b":[],"c":{},"d":[18446744073709551615,"x\"\n\u0001/é",true,null,1.5],"e":{"f":-9223372036854775808}}"#)
        #expect(JSONText.string("s").compact == #""s""#)
    }

    @Test func renderedIndentsByTwo() {
        #expect(Self.value.rendered() == """
            {
              "a": -1,
              "b": [],
              "c": {},
              "d": [
                18446744073709551615,
                "x\\"\\n\\u0001/é",
                true,
                null,
                1.5
              ],
              "e": {
                "f": -9223372036854775808
              }
            }
            """)
        #expect(JSONText.array([]).rendered() == "[]")
    }

    @Test func theWriterLaysOutBpftimeDocumentsAsNlohmannDumps() {
        var writer = JSONWriter(sink: nil)
        writer.openObject()
        writer.key(decimal: 3)
        writer.openObject()
        writer.key("attr")
        writer.openArray()
        writer.closeArray()
        writer.key(field: "name")
        writer.string("m")
        writer.closeObject()
        writer.closeObject()
        #expect(String(decoding: writer.out.contents, as: UTF8.self) == "{\n    \"3\": {\n        \"attr\": [],\n        \"name\": \"m\"\n    }\n}")
    }

    @Test func theReaderKeepsOrSkipsValues() throws {
        let text = Array(#" {"k": [1, -2, "s\u00e9"], "d": {"x": [true, false, null]}} "#.utf8)
        try text.withUnsafeBytes { bytes in
            try JSONSource.with(bytes) { source in
                var scanner = JSONScanner(source)
                guard case .object(let members) = try scanner.parseValue(depth: 0) else { Issue.record("not an object"); return }
                try scanner.expectEnd()
                #expect(members.map { source.text(of: $0.key) } == ["k", "d"])
                guard case .array(let items) = members[0].value, items.count == 3,
                      case .number(let one) = items[0], case .number(let minusTwo) = items[1], case .string(let s) = items[2]
                else { Issue.record("\(members[0].value)"); return }
                #expect(one.value(as: Int.self) == 1 && minusTwo.value(as: Int8.self) == -2 && minusTwo.value(as: UInt8.self) == nil)
                #expect(source.text(of: s) == "sé")

                var skipper = JSONScanner(source, at: 32)
                guard case .deferred(let from, let to) = try skipper.parseValue(depth: 0, keep: false) else { Issue.record("kept"); return }
                #expect(String(decoding: text[from ..< to], as: UTF8.self) == #"{"x": [true, false, null]}"#)
            }
        }
    }

    @Test func syntaxErrorsSayWhere() {
        for (text, line, column, message) in [
            ("{\"a\": [1,\n ]}", 2, 2, "unexpected ']', expected a value"),
            ("[1 2]", 1, 4, "unexpected '2', expected ',' or ']'"),
            ("\"abc", 1, 5, "unexpected end of input"),
            (String(repeating: "[", count: 100), 1, 65, "nesting deeper than 64 levels"),
        ] {
            #expect {
                try Array(text.utf8).withUnsafeBytes { bytes in
                    try JSONSource.with(bytes) { source in
                        var scanner = JSONScanner(source)
                        _ = try scanner.parseValue(depth: 0)
                        try scanner.expectEnd()
                    }
                }
            } throws: { error in
                guard let error = error as? JSONSyntaxError else { return false }
                return (error.line, error.column, error.message) == (line, column, message)
            }
        }
    }
}

import Testing
import TestSupport
import BPFModel
@testable import BPFInterchange

@Suite struct BadInputTests {
    static let prog = #""type": "bpf_prog_handler", "name": "p""#
    static let insns54 = String(repeating: "9500000000000000", count: 54)

    func expectError(_ doc: String, _ expected: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(decodeError(doc, sourceLocation: sourceLocation)?.description == expected, sourceLocation: sourceLocation)
    }

    @Test func everyTruncationIsAnEndOfInputError() throws {
        let full = try Fixtures.bytes("malloc.json")
        for length in 0..<full.count {
            do {
                _ = try BPFTimeJSON.decodeDocument(Array(full[..<length]))
                Issue.record("prefix of \(length) bytes decoded")
            } catch let error as InterchangeError {
                #expect(error.message == "unexpected end of input", "prefix \(length): \(error)")
                #expect(error.line != nil)
            }
        }
    }

    @Test func syntaxErrorsGiveLineAndColumn() {
        expectError("{\n    \"3\": {\n      \"type\" \"epoll_handler\"}}", "line 3 column 14: unexpected '\"', expected ':'")
        expectError("{\"3\": {\"type\": \"epoll_handler\"},}", "line 1 column 33: unexpected '}', expected a member name")
        expectError("{\"3\": {\"type\": \"epoll_handler\"}} x", "line 1 column 34: unexpected 'x', expected end of document")
        expectError("{\"3\": {\"type\": \"epoll_handler\", \"x\": [1,]}}", "line 1 column 41: unexpected ']', expected a value")
        expectError("{\"3\": {\"type\": \"epoll_handler\", \"x\": tru}}", "line 1 column 41: unexpected '}', expected true")
        expectError("{\"3\": {\"type\": \"epoll\thandler\"}}", "line 1 column 22: control character 0x9 in a string (must be escaped)")
        expectError("{\"3\": {\"type\": \"\\x\"}}", "line 1 column 18: unexpected 'x', expected an escape character")
        expectError("{\"3\": {\"x\": 01}}", "line 1 column 14: unexpected '1', expected ',' or '}'")
        expectError("[]", "line 1 column 1: unexpected '[', expected an object")
    }

    @Test func deepNestingIsRefused() {
        let deep = String(repeating: "[", count: 100_000)
        let error = decodeError("{\"3\": {\"type\": \"epoll_handler\", \"x\": \(deep)}}")
        #expect(error?.message == "nesting deeper than 64 levels")
    }

    @Test func wrongTypesNameFdAndField() {
        func map(_ attr: String) -> String {
            #"{"3": {"type": "bpf_map_handler", "name": "m", "attr": {"#
                + #""map_type": 1, "key_size": 4, "max_entries": 1, "# + attr + "}}}"
        }
        expectError(map(#""value_size": "8""#), "fd 3: attr.value_size: expected an unsigned 32-bit integer, got a string")
        expectError(map(#""value_size": -1"#), "fd 3: attr.value_size: expected an unsigned 32-bit integer, got -1")
        expectError(map(#""value_size": 4294967296"#), "fd 3: attr.value_size: expected an unsigned 32-bit integer, got 4294967296")
        expectError(map(#""value_size": 8.5"#), "fd 3: attr.value_size: expected an unsigned 32-bit integer, got 8.5")
        expectError(map(#""value_size": 8, "flags": 18446744073709551616"#),
                    "fd 3: attr.flags: expected an unsigned 64-bit integer, got 18446744073709551616")
        expectError(map(#""value_size": null"#), "fd 3: attr.value_size: expected an unsigned 32-bit integer, got null")
        expectError(map(#""flags": 0"#), "fd 3: attr.value_size: missing")
        expectError(#"{"3": {"type": "bpf_map_handler", "attr": []}}"#, "fd 3: attr: expected an object, got an array")
        expectError(#"{"3": {"type": "bpf_map_handler"}}"#, "fd 3: attr: missing")
        expectError(#"{"3": {"type": 7}}"#, "fd 3: type: expected a string, got 7")
        expectError(#"{"3": {"name": "x"}}"#, "fd 3: type: missing")
        expectError(#"{"3": {"type": "memfd_handler", "name": 5}}"#, "fd 3: name: expected a string, got 5")
        expectError(#"{"3": {"type": "bpf_perf_event_handler", "attr": {"type": 2, "pid": 2147483648}}}"#,
                    "fd 3: attr.pid: expected a signed 32-bit integer, got 2147483648")
        expectError(#"{"3": {"type": "bpf_perf_event_handler", "attr": {"type": 2}, "enabled": 1}}"#,
                    "fd 3: enabled: expected true or false, got 1")
        expectError(#"{"5": {"type": "bpf_link_handler", "attr": {"prog_fd": -3, "target_fd": 1}}}"#,
                    "fd 5: attr.prog_fd: expected an fd (a non-negative 32-bit integer), got -3")
        expectError(#"{"5": {"type": "bpf_link_handler", "attr": {"prog_fd": 3}}}"#, "fd 5: attr.target_fd: missing")
        expectError(#"{"4": {"# + Self.prog + #", "attr": {"insns": "", "attach_fds": "5"}}}"#,
                    "fd 4: attr.attach_fds: expected an array, got a string")
        expectError(#"{"4": {"# + Self.prog + #", "attr": {"insns": "", "attach_fds": [5, -1]}}}"#,
                    "fd 4: attr.attach_fds[1]: expected an fd (a non-negative 32-bit integer), got -1")
        expectError(#"{"4": {"# + Self.prog + #", "attr": {"insns": "", "attach_fds": [5], "attach_cookies": [1, 2]}}}"#,
                    "fd 4: attr.attach_cookies: has 2 entries but attach_fds has 1")
        expectError(#"{"4": {"# + Self.prog + #", "attr": {"insns": 12}}}"#, "fd 4: attr.insns: expected a hex string, got 12")
        expectError("{\"3\": {\"type\": \"memfd_handler\", \"name\": \"\u{FF}\"}}".replacingOccurrences(of: "\u{FF}", with: "\\udc00"),
                    "fd 3: name: invalid UTF-8")
    }

    @Test func invalidUTF8InANameIsRefused() {
        var bytes = Array(#"{"3": {"type": "memfd_handler", "name": "ab"}}"#.utf8)
        bytes[bytes.count - 5] = 0xc3 // a lead byte followed by 'b'
        #expect(throws: InterchangeError(fd: 3, field: "name", "invalid UTF-8")) { try BPFTimeJSON.decodeDocument(bytes) }
    }

    @Test func badInstructions() {
        func prog(_ attr: String) -> String { #"{"5": {"# + Self.prog + #", "attr": {"# + attr + "}}}" }
        expectError(prog(#""insns": "950000000000000""#), "fd 5: attr.insns: odd-length hex (15 digits)")
        expectError(prog(#""insns": "95000000000000zz""#), "fd 5: attr.insns: non-hex character")
        expectError(prog(#""insns": "950000000000""#), "fd 5: attr.insns: 6 bytes is not a whole number of 8-byte instructions")
        expectError(prog(#""cnt": 55, "insns": ""# + Self.insns54 + "\""), "fd 5: attr.cnt is 55 but insns hold 54 instructions")
        expectError(prog(#""cnt": -54, "insns": ""# + Self.insns54 + "\""),
                    "fd 5: attr.cnt: expected an unsigned 64-bit integer, got -54")
        expectError(prog(#""cnt": 1"#), "fd 5: attr.insns: missing")
    }

    @Test func unknownKinds() {
        expectError(#"{"3": {"type": "bpf_btf_handler"}}"#, #"fd 3: type: unknown handler type "bpf_btf_handler""#)
        expectError(#"{"3": {"type": "bpf_perf_event_handler", "attr": {"type": 3}}}"#, "fd 3: attr.type: unknown perf event type 3")
        expectError(#"{"3": {"type": "bpf_perf_event_handler", "attr": {}}}"#, "fd 3: attr.type: missing")
    }

    @Test func badFdKeys() {
        for key in ["abc", "-1", "", " 3", "3x", "2147483648", "99999999999999999999999"] {
            let error = decodeError("{\"\(key)\": {\"type\": \"epoll_handler\"}}")
            #expect(error?.description == "\"\(key)\": not an fd (a non-negative decimal integer below 2^31)")
        }
        expectError(#"{"3": {"type": "epoll_handler"}, "3": {"type": "epoll_handler"}}"#, "fd 3: duplicate fd")
        expectError(#"{"3": {"type": "epoll_handler"}, "handlers": [{"fd": 3, "type": "epoll_handler"}]}"#, "fd 3: duplicate fd")
        expectError(#"{"handlers": [{"type": "epoll_handler"}]}"#, "handlers[0].fd: missing")
        expectError(#"{"handlers": [{"fd": 1, "type": "epoll_handler"}, {"fd": "2", "type": "epoll_handler"}]}"#,
                    "handlers[1].fd: expected an fd (a non-negative 32-bit integer), got a string")
        expectError(#"{"handlers": {"fd": 1}}"#, "line 1 column 14: unexpected '{', expected an array")
    }

    @Test func mapDataNotMatchingTheMap() {
        func check(type: Int = 1, keySize: Int = 2, valueSize: Int = 1, maxEntries: Int = 16, _ data: String, _ expected: String,
                   sourceLocation: SourceLocation = #_sourceLocation) {
            expectError(mapDocument(type: type, keySize: keySize, valueSize: valueSize, maxEntries: maxEntries, data: data),
                        "fd 7: " + expected, sourceLocation: sourceLocation)
        }
        check(#"{"0100": "07", "02": "08"}"#, #"data["02"]: key is 1 bytes, key_size is 2"#)
        check(#"{"0100": "0708"}"#, #"data["0100"]: value is 2 bytes, value_size is 1"#)
        check(#"{"010": "07"}"#, #"data["010"]: odd-length hex, key_size is 2"#)
        check(#"{"01g0": "07"}"#, #"data["01g0"]: non-hex character in key"#)
        check(#"{"0100": "x7"}"#, #"data["0100"]: non-hex character in value"#)
        check(#"{"0100": 7}"#, #"data["0100"]: expected a hex value, got a number"#)
        check(#"{"0100": "07", "0100": "08"}"#, #"data["0100"]: duplicate key"#)
        check(#"{"0200": "07", "0100": "08", "0200": "09"}"#, #"data["0200"]: duplicate key"#)
        check(maxEntries: 2, #"{"0100": "07", "0200": "08", "0300": "09"}"#, "data: more entries than max_entries (2)")
        check(#"["07"]"#, "data: expected an object of hex keys to hex values, got an array")
        check(type: 22, keySize: 0, #"{"0100": "07"}"#, "data: expected an array of hex values (queue/stack map), got an object")
        check(type: 23, keySize: 0, #"["07", "0708"]"#, "data[1]: value is 2 bytes, value_size is 1")
        check(type: 5, #"{"0100": "07"}"#, #"data["0100"]: expected an array of per-CPU hex values"#)
        check(type: 5, #"{"0100": ["07", "08"], "0200": ["09"]}"#, #"data["0200"]: 1 per-CPU values, but earlier entries have 2"#)
        check(type: 5, #"{"0100": []}"#, #"data["0100"]: empty per-CPU value list"#)
        check(type: 6, #"{"0100": ["07", "0809"]}"#, #"data["0100"][1]: value is 2 bytes, value_size is 1"#)
        check(type: 1, "\"0100\"", "data: expected an object of hex keys to hex values, got a string")
        // Sizes the text cannot hold are refused without allocating for them.
        check(keySize: 1, valueSize: 4_294_967_295, maxEntries: 4_294_967_295, #"{"01": "07"}"#,
              #"data["01"]: value is 1 bytes, value_size is 4294967295"#)
    }

    @Test func decodeHandlerNamesTheFd() {
        #expect(throws: InterchangeError(fd: 12, field: "attr.insns", "odd-length hex (1 digits)")) {
            try BPFTimeJSON.decodeHandler(fd: 12, Array(#"{"type": "bpf_prog_handler", "attr": {"insns": "9"}}"#.utf8))
        }
        #expect(throws: InterchangeError.self) { try BPFTimeJSON.decodeHandler(fd: 12, Array(#"{"type": "epoll_handler"} {}"#.utf8)) }
        #expect(throws: InterchangeError.self) { try BPFTimeJSON.decodeHandler(fd: 12, []) }
    }

    /// Random corruptions of a real document: each either decodes or gives an InterchangeError.
    @Test func corruptedDocumentsNeverCrash() throws {
        let original = try Fixtures.bytes("malloc.json")
        var rng = SplitMix64(seed: 0x5eed)
        let alphabet = Array("{}[]\",:-0123456789eE.tfnu\\ \nabcdefxyz".utf8) + [0, 0x80, 0xff]
        var failures = 0
        for _ in 0..<3000 {
            var bytes = original
            for _ in 0..<Int(rng.next() % 3 + 1) {
                let at = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 3 {
                case 0: bytes[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 1: bytes.remove(at: at)
                default: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                }
            }
            do {
                _ = try BPFTimeJSON.decodeDocument(bytes)
            } catch is InterchangeError {
                failures += 1
            }
        }
        #expect(failures > 1000) // most corruptions break something, and were reported as such
    }
}


import Foundation
import Testing

/// Names from a segment reach the terminal escaped: no escape sequences, no forged rows or log lines.
@Suite(.serialized) struct EscapingTests {
    static let hostileName = "evil\u{1b}[2J\n3    map  forged\u{202e}"

    @Test func hostileHandlerNamesArePrintedEscaped() throws {
        let tool = ToolRunner(extraEnvironment: ["SPDLOG_LEVEL": "info"])
        defer { tool.cleanUp() }
        let name = String(decoding: try JSONSerialization.data(withJSONObject: [Self.hostileName], options: [.fragmentsAllowed]), as: UTF8.self)
            .dropFirst().dropLast()
        let map = #"{"type": "bpf_map_handler", "name": \#(name), "attr": {"map_type": 1, "key_size": 4, "value_size": 8, "max_entries": 4}}"#
        let load = try tool.run(["load", "3", map])
        try #require(load.status == 0, "\(load.stderr)")
        for command in [["list"], ["export", "/dev/null"]] {
            let result = try tool.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            for stream in [result.stdout, result.stderr] {
                #expect(!stream.unicodeScalars.contains { $0 == "\u{1b}" || $0 == "\u{202e}" }, "\(command): raw control text in \(stream)")
                #expect(!stream.contains("\n3    map  forged"), "\(command): a forged line")
            }
        }
        let list = try tool.run(["list"])
        #expect(list.stdout.contains("evil\\x1b[2J\\n3"), "\(list.stdout)")
    }
}

import Foundation
import Testing

/// bpftool's `-j` (one line) and `-p` (indented) on every command that prints.
@Suite(.serialized) struct JSONOutputTests {
    static func parsed(_ result: ToolRunner.Result) throws -> Any {
        try JSONSerialization.jsonObject(with: result.stdoutBytes, options: [.fragmentsAllowed])
    }

    @Test func everyPrintingCommandSpeaksJSON() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        try #require(try tool.run(["import", ToolRunner.repositoryRoot.appendingPathComponent("Scripts/demo-state.json").path]).status == 0)
        let queue = #"{"type": "bpf_map_handler", "name": "q", "attr": {"map_type": 22, "key_size": 0, "value_size": 4, "max_entries": 4}}"#
        try #require(try tool.run(["load", "20", queue]).status == 0)
        #expect(try tool.run(["map", "push", "20", "07000000"]).status == 0)
        #expect(try tool.run(["map", "update", "3", "01000000", "0500000000000000"]).status == 0)
        let input = tool.temporaryFile("in.bin", contents: Data("hi".utf8))
        defer { try? FileManager.default.removeItem(at: input) }
        let commands: [[String]] = [
            ["list"], ["status"], ["check"], ["map", "dump", "3"], ["map", "get", "3", "01000000"], ["map", "getnext", "3"],
            ["map", "peek", "20"], ["map", "pop", "20"], ["prog", "dump", "5"], ["run", "5", input.path], ["aot", "compile", "5"],
        ]
        for command in commands {
            let compact = try tool.run(command + ["-j"])
            #expect(compact.status == 0, "\(command): \(compact.stderr)")
            #expect(compact.stdout.filter { $0 == "\n" }.count == 1, "\(command): not one line: \(compact.stdout)")
            #expect((try? Self.parsed(compact)) != nil, "\(command): not JSON: \(compact.stdout)")
        }
        let check = try #require(try Self.parsed(tool.run(["check", "--json"])) as? [String: Any])
        #expect(check["consistent"] as? Bool == true && (check["problems"] as? [Any])?.isEmpty == true)
        let get = try #require(try Self.parsed(tool.run(["map", "get", "3", "01000000", "-j"])) as? [String: String])
        #expect(get == ["key": "01000000", "value": "0500000000000000"])
        let dump = try #require(try Self.parsed(tool.run(["prog", "dump", "5", "-j"])) as? [String: Any])
        let instructions = try #require(dump["instructions"] as? [[String: Any]])
        #expect(instructions.last?["disasm"] as? String == "exit")
    }

    /// `list --json` gives each handler's attributes as fields, not a free-text summary.
    @Test func listGivesStructuredAttributes() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        try #require(try tool.run(["import", ToolRunner.repositoryRoot.appendingPathComponent("Scripts/demo-state.json").path]).status == 0)
        let list = try #require(try Self.parsed(tool.run(["list", "--json"])) as? [[String: Any]])
        #expect(list.allSatisfy { $0["details"] == nil && $0["attributes"] is [String: Any] })
        let map = try #require(list.first { $0["kind"] as? String == "bpf_map_handler" })
        let attributes = try #require(map["attributes"] as? [String: Any])
        #expect(attributes["map_type"] as? Int == 1 && attributes["map_type_name"] as? String == "hash")
        #expect(attributes["key_size"] as? Int == 4 && attributes["value_size"] as? Int == 8)
        let link = try #require(list.first { $0["kind"] as? String == "bpf_link_handler" }?["attributes"] as? [String: Any])
        #expect(link["prog_fd"] is Int && link["target_fd"] is Int)
    }

    /// `-p` indents, `-j` does not; both may come before the subcommand, as bpftool's.
    @Test func prettyIndentsAndLeadsLikeBpftool() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        try #require(try tool.run(["import", ToolRunner.repositoryRoot.appendingPathComponent("Scripts/demo-state.json").path]).status == 0)
        let pretty = try tool.run(["-p", "list"])
        #expect(pretty.status == 0 && pretty.stdout.contains("\n  {\n    \"fd\": "), "\(pretty.stdout)\(pretty.stderr)")
        let compact = try tool.run(["-j", "status"])
        #expect(compact.status == 0 && compact.stdout.hasPrefix("{\"name\":"), "\(compact.stdout)\(compact.stderr)")
        #expect(try Self.parsed(pretty) is [Any])
    }

    /// The `snap` commands take `-j` and `-p` as every other command does.
    @Test func snapCommandsTakeTheSameJSONFlags() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        try #require(try tool.run(["import", ToolRunner.repositoryRoot.appendingPathComponent("Scripts/demo-state.json").path]).status == 0)
        try #require(try tool.run(["snap", "save", "-m", "first"]).status == 0)
        for command in [["snap", "list"], ["snap", "show", "1"], ["snap", "diff", "1", "live"], ["snap", "log"], ["snap", "du"]] {
            let compact = try tool.run(command + ["-j"])
            #expect(compact.status == 0 && compact.stdout.split(separator: "\n").count == 1, "\(command): \(compact.stdout)\(compact.stderr)")
            _ = try Self.parsed(compact)  // throws unless it is JSON
            let pretty = try tool.run(["-p"] + command)
            #expect(pretty.status == 0 && pretty.stdout.split(separator: "\n").count > 1, "\(command): \(pretty.stdout)\(pretty.stderr)")
            _ = try Self.parsed(pretty)
        }
    }
}

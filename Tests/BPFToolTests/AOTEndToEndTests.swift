import Foundation
import Testing

/// `aot compile` and `run ... type AOT` through the real executable, and AOT code travelling
/// through export/import and the snapshot history.
@Suite(.serialized) struct AOTEndToEndTests {
    static let demoState = ToolRunner.repositoryRoot.appendingPathComponent("Scripts/demo-state.json").path
    /// `mov r0, 7; exit`: other bytecode for fd 5 (sum_bytes).
    static let returnSeven = #"{"type": "bpf_prog_handler", "name": "sum_bytes", "attr": {"type": 0, "cnt": 2, "insns": "b7000000070000009500000000000000"}}"#

    /// A tool on a fresh segment holding the demo state, its snapshot database and a "hello" input.
    static func withDemo(_ body: (ToolRunner, _ input: String) throws -> Void) throws {
        // Changes are not recorded, so that the snapshot ids below are the saves'.
        let tool = ToolRunner(extraEnvironment: ["BPFTIME_SNAP_RECORD": "0"])
        let input = tool.temporaryFile("hello.bin", contents: Data("hello".utf8))
        defer {
            tool.cleanUp()
            try? FileManager.default.removeItem(at: input)
        }
        #expect(try tool.run(["import", demoState]).status == 0)
        try body(tool, input.path)
    }

    static func returnValue(_ tool: ToolRunner, _ arguments: [String]) throws -> Int? {
        let run = try tool.run(arguments + ["--json"])
        #expect(run.status == 0, "\(arguments): \(run.stderr)")
        return (try? JSONSerialization.jsonObject(with: run.stdoutBytes) as? [String: Any])?["return_value"] as? Int
    }

    /// `run` refused the AOT code with `message`, and ran nothing.
    static func expectRefused(_ tool: ToolRunner, _ input: String, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let run = try tool.run(["run", "5", input, "type", "AOT"])
        #expect(run.status != 0, sourceLocation: sourceLocation)
        #expect(run.stderr.contains(message), "\(run.stderr)", sourceLocation: sourceLocation)
        #expect(!run.stdout.contains("Return value"), sourceLocation: sourceLocation)
    }

    @Test func compiledCodeGivesTheInterpretersResults() throws {
        try Self.withDemo { tool, input in
            for fd in ["4", "5"] {
                let compile = try tool.run(["aot", "compile", fd])
                #expect(compile.status == 0, "\(compile.stderr)")
                #expect(compile.stdout.contains("bytes of native code"), "\(compile.stdout)")
                #expect(compile.stdout.contains("Compile time: "))
            }
            #expect(try Self.returnValue(tool, ["run", "5", input, "type", "AOT"]) == 532)
            #expect(try Self.returnValue(tool, ["run", "5", input, "type", "INTERPRET"]) == 532)
            let list = try tool.run(["list"]).stdout
            #expect(list.contains("insns=25 aot="), "\(list)")
            #expect(try tool.run(["prog", "dump", "5"]).stdout.contains("9 instructions, aot="))

            // count_calls from AOT code counts into the segment's map under the run's pid.
            let run = try tool.run(["run", "4", input, "repeat", "10", "type", "AOT"])
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout.contains("Repeat N: 10 with run type AOT"))
            var pid = UInt32(run.pid).littleEndian
            let key = withUnsafeBytes(of: &pid) { $0.map { String(format: "%02x", $0) }.joined() }
            #expect(try tool.run(["map", "get", "3", key]).stdout.contains("(10)"))
        }
    }

    @Test func missingCodeGivesBpftimesMessage() throws {
        try Self.withDemo { tool, input in
            try Self.expectRefused(tool, input, "AOT instructions not found")
            try Self.expectRefused(tool, input, "bpftimetool aot compile 5")
        }
    }

    @Test(arguments: [
        (["aot", "compile", "3"], "fd 3 is not a program"),
        (["aot", "compile", "99999"], "fd 99999 is out of range"),
        (["aot", "compile", "9"], "jump target 32768 is outside the program"),
        (["aot", "compile", "--", "-1"], "fd -1 is out of range"),
    ])
    func badCompilesStoreNothing(_ arguments: [String], _ message: String) throws {
        try Self.withDemo { tool, _ in
            // A jump far past the end: the validator refuses it, so there is nothing to compile.
            let invalid = #"{"type": "bpf_prog_handler", "name": "bad", "attr": {"type": 0, "cnt": 2, "insns": "0500ff7f000000009500000000000000"}}"#
            #expect(try tool.run(["load", "9", invalid]).status == 0)
            let before = try tool.run(["export", "-"]).stdoutBytes
            let run = try tool.run(arguments)
            #expect(run.status != 0)
            #expect(run.stderr.contains(message), "\(run.stderr)")
            #expect(!run.stderr.contains("Fatal error"))
            #expect(try tool.run(["export", "-"]).stdoutBytes == before)
        }
    }

    @Test func instructionBudgetsDoNotApplyToAOTCode() throws {
        try Self.withDemo { tool, input in
            #expect(try tool.run(["aot", "compile", "5"]).status == 0)
            let run = try tool.run(["run", "5", input, "type", "AOT", "--max-insns", "3"])
            #expect(run.status != 0)
            #expect(run.stderr.contains("--max-insns works with type INTERPRET or JIT"), "\(run.stderr)")
        }
    }

    /// AOT code carried over to other bytecode at the same fd in a file edited by hand: the
    /// file is refused, since only native code this build compiles for its bytecode is trusted.
    @Test func fileWithCodeForOtherBytecodeIsRefused() throws {
        try Self.withDemo { tool, input in
            #expect(try tool.run(["aot", "compile", "5"]).status == 0)
            let exported = try tool.run(["export", "-"]).stdoutBytes
            let document = try #require(try JSONSerialization.jsonObject(with: exported) as? [String: Any])
            var handler = try #require(document["5"] as? [String: Any])
            var attr = try #require(handler["attr"] as? [String: Any])
            #expect(attr["aot_insns"] is String)
            attr["insns"] = "b7000000070000009500000000000000"
            attr["cnt"] = 2
            handler["attr"] = attr
            let edited = String(decoding: try JSONSerialization.data(withJSONObject: handler), as: UTF8.self)
            #expect(try tool.run(["unload", "5"]).status == 0)
            let load = try tool.run(["load", "5", edited])
            #expect(load.status != 0)
            #expect(load.stderr.contains("fd 5: attr.aot_insns is not the native code this build compiles for attr.insns"), "\(load.stderr)")
            #expect(!(try tool.run(["list"]).stdout.contains("sum_bytes")), "nothing was loaded")

            handler["attr"] = attr.filter { $0.key != "aot_insns" }
            let plain = String(decoding: try JSONSerialization.data(withJSONObject: handler), as: UTF8.self)
            #expect(try tool.run(["load", "5", plain]).status == 0)
            try Self.expectRefused(tool, input, "AOT instructions not found")
            #expect(try tool.run(["aot", "compile", "5"]).status == 0)
            #expect(try Self.returnValue(tool, ["run", "5", input, "type", "AOT"]) == 7)
        }
    }

    /// Native code in the history that does not match its program (a snapshot edited so that fd
    /// 5 carries fd 4's code, as code from another build or an attacker would) is refused by
    /// restore as import refuses it: nothing is applied, no undo snapshot is recorded.
    @Test func restoreRefusesNativeCodeEditedInTheHistory() throws {
        try Self.withDemo { tool, input in
            for fd in ["4", "5"] { #expect(try tool.run(["aot", "compile", fd]).status == 0) }
            #expect(try tool.run(["snap", "save"]).status == 0)
            #expect(try tool.run(["unload", "5"]).status == 0)
            let database = try #require(tool.environment["BPFTIME_SNAP_DB"])
            let swap = Process()
            swap.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
            swap.arguments = [database, """
                UPDATE handler_states SET aot_image = (SELECT s.aot_image FROM snapshot_handlers h JOIN handler_states s ON s.id = h.state
                                                       WHERE h.snapshot = 1 AND h.fd = 4)
                WHERE id = (SELECT state FROM snapshot_handlers WHERE snapshot = 1 AND fd = 5);
                """]
            try swap.run()
            swap.waitUntilExit()
            #expect(swap.terminationStatus == 0)
            let restore = try tool.run(["snap", "restore", "1"])
            #expect(restore.status != 0)
            #expect(restore.stderr.contains("fd 5: attr.aot_insns is not the native code this build compiles"), "\(restore.stderr)")
            #expect(try tool.run(["list"]).stdout.contains("sum_bytes") == false, "nothing was applied")
            #expect(try tool.run(["snap", "list", "--json"]).stdout.components(separatedBy: "\"id\"").count == 2, "no undo snapshot")
            #expect(try tool.run(["snap", "restore", "1", "--fd", "4"]).status == 0, "the untouched fds still restore")
        }
    }

    @Test func exportCarriesTheCodeAndImportRestoresIt() throws {
        try Self.withDemo { tool, input in
            #expect(!(try tool.run(["export", "-"]).stdout.contains("aot_insns")))
            #expect(try tool.run(["aot", "compile", "5"]).status == 0)
            let file = tool.temporaryFile("state.json")
            defer { try? FileManager.default.removeItem(at: file) }
            #expect(try tool.run(["export", file.path]).status == 0)
            let text = try String(contentsOf: file, encoding: .utf8)
            #expect(text.components(separatedBy: "\"aot_insns\"").count == 2, "only fd 5 has AOT code")

            #expect(try tool.run(["remove"]).status == 0)
            // Altered native code is refused, and the import leaves no segment behind.
            let altered = tool.temporaryFile("altered.json", contents: Data(text.replacingOccurrences(
                of: #"(?<="aot_insns": "[0-9a-f]{200})[0-9a-f]"#, with: "f", options: .regularExpression).utf8))
            defer { try? FileManager.default.removeItem(at: altered) }
            #expect(try String(contentsOf: altered, encoding: .utf8) != text)
            let refused = try tool.run(["import", altered.path])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("fd 5: attr.aot_insns"), "\(refused.stderr)")
            #expect(try tool.run(["list"]).status != 0, "no segment was created")
            let snapImport = try tool.run(["snap", "import", altered.path])
            #expect(snapImport.status != 0)
            #expect(snapImport.stderr.contains("fd 5: attr.aot_insns"), "\(snapImport.stderr)")

            #expect(try tool.run(["import", file.path]).status == 0)
            #expect(try tool.run(["export", "-"]).stdoutBytes == (try Data(contentsOf: file)))
            #expect(try Self.returnValue(tool, ["run", "5", input, "type", "AOT"]) == 532)
        }
    }

    @Test func snapshotsKeepTheCode() throws {
        try Self.withDemo { tool, input in
            #expect(try tool.run(["aot", "compile", "5"]).status == 0)
            #expect(try tool.run(["snap", "save", "-m", "compiled"]).status == 0)

            // Other bytecode at fd 5, without AOT code: nothing to run, and the diff says so.
            #expect(try tool.run(["unload", "5"]).status == 0)
            #expect(try tool.run(["load", "5", Self.returnSeven]).status == 0)
            try Self.expectRefused(tool, input, "AOT instructions not found")
            let diff = try tool.run(["snap", "diff", "1", "live", "--json"])
            #expect(diff.status == 1)
            let json = try #require(try JSONSerialization.jsonObject(with: diff.stdoutBytes) as? [String: Any])
            let changed = try #require(json["changed"] as? [[String: Any]])
            let attributes = try #require(changed.first?["attributes"] as? [[String: Any]])
            let aot = try #require(attributes.first { $0["name"] as? String == "aot" })
            #expect((aot["old"] as? String)?.contains(" bytes (sha256 ") == true && aot["new"] as? String == "absent", "\(aot)")

            // Restoring brings back the bytecode and the code compiled for it.
            let restore = try tool.run(["snap", "restore", "1"])
            #expect(restore.status == 0, "\(restore.stderr)")
            #expect(try Self.returnValue(tool, ["run", "5", input, "type", "AOT"]) == 532)
        }
    }
}

import Foundation
import Testing

/// Issue 11's remainder through the real executable: `load` and `snap restore` take
/// `--allow-dangling` as `import` does, and prog_array data names programs only.
@Suite(.serialized) struct DanglingEndToEndTests {
    static let attachedProgram = #"{"attr": {"attach_fds": [9], "cnt": 1, "insns": "9500000000000000", "type": 1}, "name": "p", "type": "bpf_prog_handler"}"#
    static func progArray(naming fd: Int) -> String {
        #"{"attr": {"key_size": 4, "map_type": 3, "max_entries": 4, "value_size": 4}, "data": {"00000000": "0"# + "\(fd)" + #"000000"}, "name": "jumps", "type": "bpf_map_handler"}"#
    }

    @Test func loadTakesAllowDangling() throws {
        let tool = ToolRunner(extraEnvironment: ["BPFTIME_SNAP_RECORD": "0", "SPDLOG_LEVEL": "info"])
        defer { tool.cleanUp() }
        let refused = try tool.run(["load", "4", Self.attachedProgram])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("attach_fds refers to fd 9") && refused.stderr.contains("load with --allow-dangling"), "\(refused.stderr)")
        let loaded = try tool.run(["load", "--allow-dangling", "4", Self.attachedProgram])
        #expect(loaded.status == 0, "\(loaded.stderr)")
        #expect(loaded.stderr.contains("[warning] program fd 4 is attached to fd 9, which holds no handler"), "\(loaded.stderr)")

        #expect(try tool.run(["load", "5", #"{"type": "epoll_handler"}"#]).status == 0)
        let notAProgram = try tool.run(["load", "3", Self.progArray(naming: 5)])
        #expect(notAProgram.status != 0)
        #expect(notAProgram.stderr.contains("prog_array slot 0 holds fd 5, which is not a program"), "\(notAProgram.stderr)")
        #expect(notAProgram.stderr.contains("load with --allow-dangling to drop such entries"), "\(notAProgram.stderr)")
        let dropped = try tool.run(["load", "--allow-dangling", "3", Self.progArray(naming: 5)])
        #expect(dropped.status == 0, "\(dropped.stderr)")
        #expect(dropped.stderr.contains("[warning] prog_array fd 3 slot 0 names fd 5, which holds no program: entry dropped"), "\(dropped.stderr)")
        #expect(try tool.run(["map", "dump", "3"]).stdout.contains("0 entries"))
        #expect(try tool.run(["load", "6", Self.progArray(naming: 4)]).status == 0, "a program's fd is taken")
    }

    @Test func selectiveRestoreOfAProgramWhoseEventIsGone() throws {
        let tool = ToolRunner(extraEnvironment: ["BPFTIME_SNAP_RECORD": "0", "SPDLOG_LEVEL": "info"])
        defer { tool.cleanUp() }
        let event = #"{"attr": {"_module_name": "victim", "data_type": "uprobe_perf_event_data", "offset": 16, "pid": -1, "ref_ctr_off": 0, "type": 6}, "type": "bpf_perf_event_handler"}"#
        let document = tool.temporaryFile("attached.json", contents: Data(#"{"4": \#(Self.attachedProgram.replacingOccurrences(of: "[9]", with: "[5]")), "5": \#(event)}"#.utf8))
        defer { try? FileManager.default.removeItem(at: document) }
        let imported = try tool.run(["import", document.path])
        try #require(imported.status == 0, "\(imported.stderr)")
        #expect(try tool.run(["snap", "save"]).status == 0)
        for fd in [4, 5] { #expect(try tool.run(["unload", "\(fd)"]).status == 0) }

        let refused = try tool.run(["snap", "restore", "1", "--fd", "4"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("program fd 4 is attached to fd 5, which would hold nothing"), "\(refused.stderr)")
        #expect(refused.stderr.contains("--allow-dangling"), "\(refused.stderr)")
        let restored = try tool.run(["snap", "restore", "1", "--fd", "4", "--allow-dangling"])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(restored.stdout.contains("create  fd 4"), "\(restored.stdout)")
        #expect(restored.stderr.contains("[warning] program fd 4 stays attached to fd 5, which holds nothing"), "\(restored.stderr)")
        #expect(try tool.run(["check"]).status == 0)
    }
}

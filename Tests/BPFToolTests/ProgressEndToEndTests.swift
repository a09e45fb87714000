import Foundation
import Testing

/// The progress line of long history commands, looked at as a person would: on a terminal
/// (a tmux pane) it is drawn in place and ends with the time taken; through a pipe there is none.
@Suite(.serialized, .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux"), "tmux is missing (Scripts/setup.sh installs it)"))
struct ProgressEndToEndTests {
    /// A 100,000-entry hash map in the segment; the progress line shows from the start.
    static func withState(_ body: (ToolRunner) throws -> Void) throws {
        try ToolRunner.using(["BPFTIME_PROGRESS_AFTER": "0", "BPFTIME_SHM_MEMORY_MB": "32"]) { tool in
            let data = (0 ..< 100_000).map { i in
                String(format: "\"%08x\": \"%016x\"", UInt32(truncatingIfNeeded: i &* 2_654_435_761).byteSwapped, i)
            }.sorted().joined(separator: ", ")
            let document = tool.temporaryFile("progress.json", contents: Data((#"{"3": {"attr": {"flags": 0, "key_size": 4, "map_type": 1, "max_entries": 100000, "value_size": 8}, "data": {"#
                + data + #"}, "name": "m", "type": "bpf_map_handler"}}"#).utf8))
            defer { try? FileManager.default.removeItem(at: document) }
            #expect(try tool.run(["import", document.path, "--no-record"]).status == 0)
            try body(tool)
        }
    }

    @Test func aTerminalSeesTheProgressLineRedrawnInPlace() throws {
        try Self.withState { tool in
            let exported = tool.temporaryFile("exported.json")
            defer { try? FileManager.default.removeItem(at: exported) }
            var saved = ""
            for arguments in [["snap", "save", "-m", "on a terminal"], ["snap", "export", "latest", exported.path], ["snap", "restore", "latest"]] {
                let title = arguments.prefix(2).joined(separator: " ")
                let (screen, raw) = try TerminalSession.run(tool, arguments)
                if saved.isEmpty { saved = raw }
                #expect(screen.contains("EXIT=0"), "\(screen)")
                #expect(screen.contains("\(title): done in "), "the line ends with the time taken: \(screen)")
                let draws = raw.components(separatedBy: "\r\u{1b}[K\(title): ").count - 1
                #expect(draws >= 2, "drawn and redrawn in place: \(raw.debugDescription)")
            }
            // Saving 100,000 entries takes several redraws: they show the step and how far it got.
            #expect(saved.contains("snap save: reading the segment")
                    && saved.range(of: #"snap save: writing \d+% \(\d+/100001\)"#, options: .regularExpression) != nil, "\(saved.debugDescription)")
        }
    }

    /// Diff, prune and gc show it too: shown from the start, even a short one draws its line and ends it.
    @Test func diffPruneAndGCShowTheirProgressOnATerminal() throws {
        try Self.withState { tool in
            #expect(try tool.run(["snap", "save", "-m", "before"]).status == 0)
            #expect(try tool.run(["map", "update", "3", "00000000", "0100000000000000", "--no-record"]).status == 0)
            #expect(try tool.run(["snap", "save", "-m", "after"]).status == 0)
            for (arguments, exit) in [(["snap", "diff", "1", "2"], 1), (["snap", "diff", "1"], 1),
                                      (["snap", "prune", "--keep-last", "1"], 0), (["snap", "gc"], 0)] {
                let title = arguments.prefix(2).joined(separator: " ")
                let (screen, raw) = try TerminalSession.run(tool, arguments)
                #expect(screen.contains("EXIT=\(exit)"), "\(arguments): \(screen)")
                #expect(screen.contains("\(title): done in "), "the line ends with the time taken: \(screen)")
                let draws = raw.components(separatedBy: "\r\u{1b}[K\(title): ").count - 1
                #expect(draws >= 2, "drawn and redrawn in place: \(raw.debugDescription)")
            }
            #expect(try RecordingEndToEndTests.ids(tool) == [2], "prune kept only the newest")
            // Through a pipe: none.
            let piped = try tool.run(["snap", "gc"])
            #expect(piped.status == 0 && !piped.stderr.contains("\r") && !piped.stderr.contains("done in"), "\(piped.stderr.debugDescription)")
        }
    }

    @Test func aPipeGetsNoProgress() throws {
        try Self.withState { tool in
            let exported = tool.temporaryFile("exported.json")
            defer { try? FileManager.default.removeItem(at: exported) }
            for arguments in [["snap", "save", "-m", "through a pipe"], ["snap", "export", "latest", exported.path], ["snap", "restore", "latest"]] {
                let result = try tool.run(arguments)
                #expect(result.status == 0, "\(result.stderr)")
                #expect(!result.stderr.contains("\r") && !result.stderr.contains("done in"), "\(result.stderr.debugDescription)")
                #expect(!result.stdout.contains("\r"))
            }
            let bad = try tool.adding(["BPFTIME_PROGRESS_AFTER": "later"]).run(["snap", "save"])
            #expect(bad.status == 0, "not a terminal: the setting is not read")
        }
    }
}

/// One command run in a detached tmux session (a private server), as on a terminal: what the
/// pane shows at the end, and every byte written to it.
enum TerminalSession {
    static func run(_ tool: ToolRunner, _ arguments: [String]) throws -> (screen: String, raw: String) {
        let server = "bpftimetool-test-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let raw = tool.temporaryFile("pane.raw"), go = tool.temporaryFile("pane.go")
        defer {
            try? tmux(server, ["kill-server"])
            for file in [raw, go] { try? FileManager.default.removeItem(at: file) }
        }
        let environment = ["BPFTIME_GLOBAL_SHM_NAME", "BPFTIME_SNAP_DB", "BPFTIME_PROGRESS_AFTER", "BPFTIME_SHM_MEMORY_MB"]
            .compactMap { name in tool.environment[name].map { "\(name)=\(quoted($0))" } }.joined(separator: " ")
        let command = ([ToolRunner.executable.path] + arguments).map(quoted).joined(separator: " ")
        // The command waits for `go`, so that the pane is being recorded before it writes.
        let script = "while [ ! -e \(quoted(go.path)) ]; do sleep 0.05; done; env \(environment) \(command); echo EXIT=$?; sleep 60"
        try tmux(server, ["new-session", "-d", "-s", "t", "-x", "160", "-y", "40", "sh", "-c", script])
        try tmux(server, ["pipe-pane", "-o", "-t", "t", "cat >> \(quoted(raw.path))"])
        #expect(FileManager.default.createFile(atPath: go.path, contents: nil))
        var screen = ""
        for _ in 0 ..< 600 where !screen.contains("EXIT=") {
            usleep(100_000)
            screen = try shell("/usr/bin/tmux", ["-L", server, "capture-pane", "-p", "-t", "t"])
        }
        usleep(200_000)  // pipe-pane's cat writes what it read
        return (screen, (try? String(contentsOf: raw, encoding: .utf8)) ?? "")
    }

    /// A tmux command, spawned with only stdin and /dev/null for output: the server it starts
    /// keeps every descriptor it inherits, and Foundation's `Process` waits for its own ones to close.
    static func tmux(_ server: String, _ arguments: [String]) throws {
        let argv = ["/usr/bin/tmux", "-L", server] + arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let inherited = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.compactMap { Int32($0) } ?? []
        for fd in inherited where fd > 2 && fcntl(fd, F_GETFD) >= 0 { posix_spawn_file_actions_addclose(&actions, fd) }
        let cArguments = argv.map { strdup($0) } + [nil]
        defer { for argument in cArguments { free(argument) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, argv[0], &actions, nil, cArguments, environ) == 0 else {
            throw ShellError(description: "cannot start tmux")
        }
        var status: Int32 = 0
        // Foundation may reap it first (ECHILD): then only the session's presence tells.
        if waitpid(pid, &status, 0) == pid, status != 0 { throw ShellError(description: "tmux \(arguments) exited with \(status)") }
    }

    static func quoted(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}

import Foundation
import Testing

/// `snap serve` against a real history made by the tool: the JSON API answers exactly what the
/// command line prints, bad requests get 4xx and never stop the server, restore needs the flag
/// and the session's token, and headless Chromium renders the pages.
@Suite(.serialized) struct ServeEndToEndTests {
    /// Five snapshots of the demo state; key 02000000 of map fd 3 is added in the second and
    /// counts up in each after it.
    static func withHistory(_ body: (ToolRunner) throws -> Void) throws {
        try SnapshotEndToEndTests.withTool { tool in
            #expect(try tool.run(["import", SnapshotEndToEndTests.demoState]).status == 0)
            #expect(try tool.run(["snap", "save", "-m", "first", "--tag", "base"]).status == 0)
            for round in 1 ... 4 {
                #expect(try tool.run(["map", "update", "3", "02000000", String(format: "%02x00000000000000", round * 10)]).status == 0)
                #expect(try tool.run(["snap", "save", "-m", "round \(round)"]).status == 0)
            }
            try body(tool)
        }
    }

    static func withServer(_ tool: ToolRunner, _ arguments: [String] = [], _ body: (ServeProcess) throws -> Void) throws {
        let server = try ServeProcess(tool: tool, arguments: arguments)
        defer { server.stop() }
        try body(server)
    }

    @Test func apiAnswersWhatTheCommandLinePrints() throws {
        try Self.withHistory { tool in
            try Self.withServer(tool) { server in
                let pairs: [(String, [String])] = [
                    ("/api/snapshots", ["snap", "list", "--json"]),
                    ("/api/snapshots/3", ["snap", "show", "3", "--json"]),
                    ("/api/snapshots/base", ["snap", "show", "base", "--json"]),
                    ("/api/diff?a=1&b=5", ["snap", "diff", "1", "5", "--json"]),
                    ("/api/diff?a=base&b=live", ["snap", "diff", "base", "live", "--json"]),
                    ("/api/log", ["snap", "log", "--json"]),
                    ("/api/log?fd=3&n=2", ["snap", "log", "--fd", "3", "-n", "2", "--json"]),
                    ("/api/log?fd=3&key=02000000", ["snap", "log", "--fd", "3", "--key", "02000000", "--json"]),
                ]
                for (path, command) in pairs {
                    let answer = try server.get(path)
                    #expect(answer.status == 200, "\(path): \(answer.body)")
                    #expect(answer.headers["content-type"] == "application/json")
                    let printed = try tool.run(command)
                    #expect(printed.status == 0 || printed.status == 1, "\(command): \(printed.stderr)")
                    #expect(answer.body == printed.stdout, "\(path) differs from \(command.joined(separator: " "))")
                }
                let list = try #require(try JSONSerialization.jsonObject(with: Data(server.get("/api/snapshots").body.utf8)) as? [[String: Any]])
                #expect(list.compactMap { $0["id"] as? Int } == [1, 2, 3, 4, 5])
            }
            #expect(try tool.run(["snap", "list"]).status == 0, "the history is intact after the server stopped")
        }
    }

    @Test func badRequestsGet4xxAndTheServerKeepsServing() throws {
        try Self.withHistory { tool in
            try Self.withServer(tool) { server in
                let cases: [(String, Int)] = [
                    ("/api/snapshots/999", 404), ("/api/snapshots/nosuchtag", 404), ("/snapshots/999", 404),
                    ("/api/diff?a=1", 400), ("/api/diff?a=1&b=999", 404), ("/diff?b=2", 400),
                    ("/snapshots/1/maps/3?limit=100000000", 400), ("/snapshots/1/maps/3?limit=0", 400),
                    ("/snapshots/1/maps/3?offset=-1", 400), ("/snapshots/1/maps/3?offset=99999999999999999999", 400),
                    ("/snapshots/1/maps/3?key=zz", 400), ("/snapshots/1/maps/3?key=010203040506", 400),
                    ("/snapshots/1/maps/3?key=99999999999", 400), ("/snapshots/1/maps/99", 404), ("/snapshots/1/maps/x", 404),
                    ("/snapshots/1/programs/3", 404), ("/snapshots/1/maps/4", 404),
                    ("/plot?fd=3", 400), ("/plot?fd=abc&key=1", 400), ("/plot?fd=3&key=1&segment=nosuch", 404), ("/plot?fd=42&key=1", 404),
                    ("/snapshots/1/restore", 403), ("/no/such/page", 404),
                    ("/api/log?key=02000000", 400), ("/api/log?fd=3&key=zz", 400), ("/api/log?fd=3&key=01", 400), ("/api/log?n=-1", 400),
                ]
                for (path, status) in cases {
                    let answer = try server.get(path)
                    #expect(answer.status == status, "\(path): \(answer.status) \(answer.body)")
                }
                #expect(try server.post("/snapshots/1/restore", form: "token=x").status == 403)
                #expect(try server.get("/api/snapshots/999").body.contains("\"error\": \"no snapshot with id or tag '999'\""))
                #expect(try server.get("/").status == 200, "still serving")
            }
        }
    }

    @Test func mapPagesSearchAndPage() throws {
        try Self.withHistory { tool in
            try Self.withServer(tool) { server in
                let page = try server.get("/snapshots/5/maps/3?limit=1&offset=1")
                #expect(page.status == 200)
                #expect(page.body.components(separatedBy: "<tr class=\"entry\"").count - 1 == 1)
                #expect(page.body.contains("entries 2–2 of 2"))
                #expect(page.body.contains("02000000 (2)"), "the second key in key order")
                // The same key as hex and as an integer; 40 = 0x28 was written in round 4.
                for key in ["02000000", "2", "0x02000000"] {
                    let found = try server.get("/snapshots/5/maps/3?key=\(key)")
                    #expect(found.body.contains("2800000000000000 (40)"), "key \(key)")
                }
                #expect(try server.get("/snapshots/1/maps/3?key=2").body.contains("no entry with key 02000000"))
            }
        }
    }

    /// A long history: the timeline shows a page of the newest snapshots with a link to older
    /// ones, and the page's entry-count plot draws a point only where a map's count starts or
    /// ends a run.
    @Test func longTimelinesArePagedAndPlotsKeepOnlyRunEnds() throws {
        try Self.withHistory { tool in
            // 120 more snapshots of the segment, sharing snapshot 5's handlers (as unchanged saves do).
            let copies = String(repeating: """
                INSERT INTO snapshots (created_at, segment_name, host, generation, message, parent)
                  SELECT created_at, segment_name, host, generation, 'copy', (SELECT max(id) FROM snapshots) FROM snapshots WHERE id = 5;
                INSERT INTO snapshot_handlers SELECT (SELECT max(id) FROM snapshots), fd, state FROM snapshot_handlers WHERE snapshot = 5;

                """, count: 120)
            _ = try shell("/usr/bin/sqlite3", [tool.historyPath, "BEGIN;\n\(copies)COMMIT;"])
            try Self.withServer(tool) { server in
                let first = try server.get("/").body
                #expect(Self.count("<tr class=\"snap\"", in: first) == 100, "a page of the 125 snapshots")
                #expect(first.contains("id=\"s125\"") && first.contains("id=\"s26\"") && !first.contains("id=\"s25\""))
                // Map fd 3 holds 1 entry in snapshot 1 and 2 from snapshot 2 on; the plot covers the page.
                #expect(Self.count("<circle class=\"pt\"", in: first) == 2, "26 and 125: the ends of the one run")
                let older = try #require(first.components(separatedBy: "href=\"").first { $0.contains("before=") }?.prefix { $0 != "\"" })
                let second = try server.get(String(older).replacingOccurrences(of: "&amp;", with: "&")).body
                #expect(Self.count("<tr class=\"snap\"", in: second) == 25)
                #expect(Self.count("<circle class=\"pt\"", in: second) == 3, "1, 2 and 25")
                #expect(second.contains("id=\"s25\"") && second.contains("id=\"s1\"") && !second.contains("older snapshots"))
                #expect(try server.get("/?before=0").status == 400)
            }
        }
    }

    @Test func restoreNeedsTheFlagAndTheSessionToken() throws {
        try Self.withHistory { tool in
            try Self.withServer(tool, ["--allow-restore"]) { server in
                let confirm = try server.get("/snapshots/base/restore")
                #expect(confirm.status == 200, "\(confirm.body)")
                #expect(confirm.body.contains("replace fd 3"), "the plan is shown before anything happens")
                #expect(try tool.run(["snap", "diff", "5", "live"]).status == 0, "showing the plan changed nothing")
                let cookie = try #require(confirm.headers["set-cookie"]?.components(separatedBy: ";").first)
                let token = try #require(confirm.body.components(separatedBy: "name=\"token\" value=\"").dropFirst().first?.prefix(64))

                #expect(try server.post("/snapshots/1/restore", form: "token=\(token)").status == 403, "no session cookie")
                #expect(try server.post("/snapshots/1/restore", form: "token=\(String(repeating: "0", count: 64))", cookie: cookie).status == 403)
                #expect(try server.post("/snapshots/1/restore", form: "", cookie: cookie).status == 403)
                #expect(try tool.run(["snap", "list", "--json"]).stdout.components(separatedBy: "\"id\"").count - 1 == 5, "refused: nothing recorded")

                let done = try server.post("/snapshots/1/restore", form: "token=\(token)", cookie: cookie)
                #expect(done.status == 200, "\(done.body)")
                #expect(try tool.run(["snap", "diff", "base", "live"]).status == 0, "the segment is snapshot 1 again")
                #expect(try tool.run(["snap", "diff", "5", "6"]).status == 0, "the state before was saved first")
                let timeline = try server.get("/").body
                #expect(Self.count("before restore</span>", in: timeline) == 1, "the undo snapshot is marked")
                #expect(timeline.contains("restored snapshot 1 at"), "with what its restore did")
            }
        }
    }

    @Test func chromiumRendersTimelineDiffAndKeyPlot() throws {
        let chromium = try #require(Chromium.find(), "chromium is not installed (Scripts/setup.sh installs it)")
        try Self.withHistory { tool in
            try Self.withServer(tool) { server in
                let folder = ToolRunner.repositoryRoot.appendingPathComponent("test-screenshots")
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                let pages: [(name: String, path: String, check: (String) -> Void)] = [
                    ("timeline", "/", { dom in
                        #expect(Self.count("<tr class=\"snap\"", in: dom) == 5)
                        #expect(dom.contains(">base</span>"), "the tag")
                        #expect(Self.count("<polyline", in: dom) == 1, "one entry-count line: one map")
                    }),
                    ("diff", "/diff?a=1&b=2", { dom in
                        #expect(Self.count("class=\"add entry\"", in: dom) == 1, "the added key")
                        #expect(dom.contains("02000000 (2)"))
                    }),
                    ("key-plot", "/plot?fd=3&key=02000000", { dom in
                        #expect(Self.count("<circle class=\"pt\"", in: dom) == 4, "present in snapshots 2 to 5")
                        #expect(Self.count("<tr class=\"change\"", in: dom) == 4)
                        #expect(dom.contains("2800000000000000 (40)"))
                    }),
                    ("snapshot", "/snapshots/2", { dom in #expect(Self.count("<tr class=\"handler\"", in: dom) == 5) }),
                    ("program", "/snapshots/2/programs/4", { dom in #expect(dom.contains("exit")) }),
                ]
                for page in pages {
                    let url = server.url(page.path).absoluteString
                    page.check(try chromium.dumpDOM(url))
                    let png = folder.appendingPathComponent("\(page.name).png")
                    try chromium.screenshot(url, to: png)
                    let size = try FileManager.default.attributesOfItem(atPath: png.path)[.size] as? Int ?? 0
                    #expect(size > 5_000, "\(page.name).png is \(size) bytes")
                }
            }
        }
    }

    static func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }
}

/// Debian's headless Chromium, run with a time limit.
struct Chromium {
    let path: String

    static func find() -> Chromium? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }.map(Chromium.init)
    }

    func dumpDOM(_ url: String) throws -> String {
        String(decoding: try run(["--dump-dom", url]), as: UTF8.self)
    }

    func screenshot(_ url: String, to file: URL) throws {
        try? FileManager.default.removeItem(at: file)
        _ = try run(["--hide-scrollbars", "--window-size=1280,900", "--screenshot=\(file.path)", url])
    }

    private func run(_ arguments: [String]) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        // As root Chromium needs --no-sandbox; a private profile keeps runs apart.
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-\(getpid())-\(UInt32.random(in: 0 ... .max))")
        defer { try? FileManager.default.removeItem(at: profile) }
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile.path)"] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let timer = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 90, execute: timer)
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        timer.cancel()
        guard process.terminationStatus == 0 else { throw ServeError("chromium \(arguments.joined(separator: " ")) exited \(process.terminationStatus)") }
        return data
    }
}

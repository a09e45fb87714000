import Foundation
import TestSupport
import Testing

/// `snap serve` on a PostgreSQL history (a private cluster's database holding the snapshots
/// pushed from a SQLite history) answers every page and API route with what it answers on
/// that SQLite history, restores into it, and survives losing its connection.
@Suite(.serialized) struct ServeOnPostgresEndToEndTests {
    /// `ServeEndToEndTests`' five snapshots, pushed into a new PostgreSQL database.
    static func withPushedHistory(_ body: (ToolRunner, _ url: String) throws -> Void) throws {
        let url = try PostgresCluster.shared.get().newDatabase()
        try ServeEndToEndTests.withHistory { tool in
            let pushed = try tool.run(["snap", "push", url])
            #expect(pushed.status == 0, "\(pushed.stderr)")
            try body(tool, url)
        }
    }

    @Test func everyRouteAnswersWhatTheSQLiteHistoryAnswers() throws {
        let password = try PostgresCluster.shared.get().password
        try Self.withPushedHistory { tool, url in
            try ServeEndToEndTests.withServer(tool) { sqlite in
                try ServeEndToEndTests.withServer(tool, ["--db", url]) { postgres in
                    #expect(postgres.firstLine.hasPrefix("serving postgres://"), "\(postgres.firstLine)")
                    #expect(!postgres.firstLine.contains(password), "the connection string is printed without its password")
                    let paths = [
                        "/api/snapshots", "/api/snapshots/3", "/api/snapshots/base", "/api/diff?a=1&b=5", "/api/diff?a=base&b=live",
                        "/api/log", "/api/log?fd=3&n=2", "/api/log?fd=3&key=02000000",
                        "/", "/?segment=\(tool.segmentName)&before=3", "/snapshots/2", "/snapshots/base", "/snapshots/2/programs/4",
                        "/snapshots/5/maps/3", "/snapshots/5/maps/3?limit=1&offset=1", "/snapshots/5/maps/3?key=2",
                        "/snapshots/1/maps/3?key=2", "/diff?a=1&b=5", "/diff?a=base&b=live", "/plot?fd=3&key=02000000",
                        // Refusals too: the same status and message.
                        "/api/snapshots/999", "/snapshots/1/maps/99", "/plot?fd=42&key=1", "/snapshots/1/maps/3?key=zz",
                    ]
                    for path in paths {
                        let (a, b) = (try sqlite.get(path), try postgres.get(path))
                        #expect(b.status == a.status, "\(path): \(b.status) \(b.body)")
                        #expect(b.headers["content-type"] == a.headers["content-type"], "\(path)")
                        #expect(b.body == a.body, "\(path) differs on PostgreSQL")
                    }
                    // And the content is the history's, not two equal error pages.
                    let list = try #require(try JSONSerialization.jsonObject(with: Data(postgres.get("/api/snapshots").body.utf8)) as? [[String: Any]])
                    #expect(list.compactMap { $0["id"] as? Int } == [1, 2, 3, 4, 5])
                    #expect(list.first?["tags"] as? [String] == ["base"])
                    let timeline = try postgres.get("/").body
                    #expect(ServeEndToEndTests.count("<tr class=\"snap\"", in: timeline) == 5)
                    #expect(try postgres.get("/snapshots/5/maps/3?limit=1&offset=1").body.contains("entries 2–2 of 2"))
                    #expect(try postgres.get("/snapshots/5/maps/3?key=2").body.contains("2800000000000000 (40)"))
                    #expect(ServeEndToEndTests.count("<tr class=\"change\"", in: try postgres.get("/plot?fd=3&key=02000000").body) == 4)
                    #expect(try postgres.get("/api/snapshots/999").status == 404)
                }
            }
        }
    }

    /// Requests at once take turns on the one connection: every answer is whole and right.
    @Test func concurrentRequestsShareTheConnection() throws {
        try Self.withPushedHistory { tool, url in
            try ServeEndToEndTests.withServer(tool, ["--db", url]) { server in
                let expected = try server.get("/api/log").body
                let paths = ["/api/log", "/", "/snapshots/5/maps/3", "/plot?fd=3&key=02000000", "/diff?a=1&b=5"]
                let answers = ConcurrentAnswers(count: 20)
                DispatchQueue.concurrentPerform(iterations: 20) { i in
                    answers.set(i, Result { try server.get(paths[i % paths.count]) })
                }
                for (i, answer) in answers.all.enumerated() {
                    let a = try answer.get()
                    #expect(a.status == 200, "\(paths[i % paths.count]): \(a.body)")
                    if i % paths.count == 0 { #expect(a.body == expected) }
                }
            }
        }
    }

    /// The undo snapshot, the restore and the restored state (recorded, as every change is) all
    /// go into the PostgreSQL history.
    @Test func restoreRecordsTheUndoSnapshotAndTheChangeInThePostgreSQLHistory() throws {
        let cluster = try PostgresCluster.shared.get()
        try Self.withPushedHistory { tool, url in
            try ServeEndToEndTests.withServer(tool.adding(["BPFTIME_SNAP_RECORD": "1"]), ["--db", url, "--allow-restore"]) { server in
                let confirm = try server.get("/snapshots/base/restore")
                #expect(confirm.status == 200, "\(confirm.body)")
                #expect(confirm.body.contains("replace fd 3"), "the plan is shown before anything happens")
                let cookie = try #require(confirm.headers["set-cookie"]?.components(separatedBy: ";").first)
                let token = try #require(confirm.body.components(separatedBy: "name=\"token\" value=\"").dropFirst().first?.prefix(64))
                #expect(try server.post("/snapshots/1/restore", form: "token=\(String(repeating: "0", count: 64))", cookie: cookie).status == 403)
                #expect(try cluster.psql("SELECT count(*) FROM snapshots", url: url) == "5\n", "refused: nothing recorded")

                let done = try server.post("/snapshots/1/restore", form: "token=\(token)", cookie: cookie)
                #expect(done.status == 200, "\(done.body)")
                #expect(done.body.contains("previous state saved as snapshot 6"), "\(done.body)")
                #expect(done.body.contains("recorded as snapshot 7"), "\(done.body)")
                #expect(try cluster.psql("SELECT restored_snapshot, undo_snapshot, command LIKE '%snap serve%' FROM snapshots WHERE id = 7", url: url) == "1|6|t\n")
                #expect(try tool.run(["snap", "diff", "1", "7", "--db", url]).stdout == "no differences\n", "the restored state, recorded")
                #expect(try tool.run(["snap", "diff", "base", "live", "--db", url]).stdout == "no differences\n", "the segment is snapshot 1 again")
                #expect(try tool.run(["snap", "diff", "5", "6", "--db", url]).stdout == "no differences\n", "the state before was saved first")
                #expect(try cluster.psql("SELECT snapshot, undo_snapshot, fds FROM restores", url: url) == "1|6|[3]\n")
                let timeline = try server.get("/").body
                #expect(ServeEndToEndTests.count("before restore</span>", in: timeline) == 1, "the undo snapshot is marked")
                #expect(timeline.contains("restored snapshot 1 at"), "with what its restore did")
            }
            #expect(try tool.run(["snap", "list", "--json"]).stdout.components(separatedBy: "\"id\"").count - 1 == 5, "the SQLite history is untouched")
        }
    }

    /// The server's connection cut between requests: the next request opens another. The
    /// server down: error pages (5xx, saying so), never a crash, until it is back.
    @Test func aLostConnectionGivesErrorPagesUntilTheServerIsBack() throws {
        // A cluster of its own: this test stops it.
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let url = try cluster.newDatabase()
        try ServeEndToEndTests.withHistory { tool in
            #expect(try tool.run(["snap", "push", url]).status == 0)
            try ServeEndToEndTests.withServer(tool, ["--db", url]) { server in
                let list = try server.get("/api/snapshots")
                #expect(list.status == 200)
                let database = try #require(url.split(separator: "/").last.map(String.init))
                #expect(try cluster.superuser("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '\(database)'") == "1\n",
                        "the server's one connection")
                #expect(try server.get("/api/snapshots").body == list.body, "answered on a new connection")

                try cluster.halt()
                for path in ["/api/snapshots", "/", "/snapshots/5/maps/3"] {
                    let answer = try server.get(path)
                    #expect(answer.status == 500, "\(path): \(answer.status) \(answer.body)")
                    // "cannot open snapshot database postgres://fleet:***@127.0.0.1:PORT/DB: ..." (or, had the
                    // request gone out before the cut was seen, "...: the server closed the connection").
                    #expect(answer.body.contains("postgres://fleet:***@127.0.0.1:"), "\(path): \(answer.body)")
                    #expect(!answer.body.contains(cluster.password))
                }
                #expect(server.process.isRunning, "still serving")
                try cluster.start()
                #expect(try server.get("/api/snapshots").body == list.body, "back with the server")
                #expect(ServeEndToEndTests.count("<tr class=\"snap\"", in: try server.get("/").body) == 5)
            }
        }
    }
}

/// Answers gathered from concurrent requests.
private final class ConcurrentAnswers: @unchecked Sendable {
    private var answers: [Result<ServeProcess.Answer, any Error>]
    private let lock = NSLock()

    init(count: Int) { answers = Array(repeating: .failure(ServeError("no answer")), count: count) }

    func set(_ i: Int, _ answer: Result<ServeProcess.Answer, any Error>) {
        lock.lock()
        defer { lock.unlock() }
        answers[i] = answer
    }

    var all: [Result<ServeProcess.Answer, any Error>] {
        lock.lock()
        defer { lock.unlock() }
        return answers
    }
}

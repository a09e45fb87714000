import BPFModel
@testable import BPFSnapshots
import Foundation
import Testing

/// Several writers at once, and writers that die or fail midway.
@Suite struct ConcurrencyTests {
    /// Every snapshot is whole: one 20,000-entry map, as `BPFSnapshotsBench save-many` writes.
    func expectWholeSnapshots(_ store: SnapshotStore) throws {
        #expect(try store.integrityCheck() == ["ok"])
        for info in try store.list() {
            #expect(info.handlerCount == 1)
            guard case .map(let m) = try store.records(of: info.id).first?.handler else {
                Issue.record("snapshot \(info.id) has no map"); continue
            }
            #expect(m.contents?.count == 20_000)
        }
    }

    func bench() throws -> String {
        guard let path = Fixtures.benchExecutable else {
            throw SnapshotError.database("BPFSnapshotsBench is not built beside the tests (swift build first)")
        }
        return path
    }

    @Test func twoStoresOpeningAndSavingAtOnce() async throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.db")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<2 {
                group.addTask {
                    let store = try SnapshotStore(path: path)  // both may find an empty file to migrate
                    for round in 0..<4 {
                        _ = try store.save([Fixtures.bigMap(20_000, factor: UInt64(writer * 10 + round))],
                                           meta: SnapshotMeta(segmentName: "w\(writer)", host: "h", generation: UInt64(round)))
                    }
                }
            }
            try await group.waitForAll()
        }
        let store = try SnapshotStore(path: path)
        #expect(try store.list().count == 8)
        try expectWholeSnapshots(store)
    }

    @Test func twoProcessesSavingAtOnce() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.db")
        let bench = try bench()
        let processes = try (0..<2).map { _ in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: bench)
            p.arguments = ["save-many", path, "4"]
            try p.run()
            return p
        }
        for p in processes {
            p.waitUntilExit()
            #expect(p.terminationReason == .exit && p.terminationStatus == 0)
        }
        let store = try SnapshotStore(path: path)
        #expect(try store.list().count == 8)
        #expect(Set(try store.list().map(\.host)).count == 2)
        try expectWholeSnapshots(store)
    }

    @Test func aSaveWaitsForAnotherProcessHoldingTheWriteLock() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.db")
        let store = try SnapshotStore(path: path)
        let first = try store.save([], meta: Fixtures.meta)

        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        sqlite.arguments = [path]
        let input = Pipe(), output = Pipe()
        sqlite.standardInput = input
        sqlite.standardOutput = output
        try sqlite.run()
        input.fileHandleForWriting.write(Data("""
            .timeout 10000
            BEGIN IMMEDIATE;
            INSERT INTO tags (name, snapshot) VALUES ('held', \(first));
            SELECT 'locked';
            .shell sleep 1
            COMMIT;

            """.utf8))
        try input.fileHandleForWriting.close()
        // Save only once sqlite3 holds the lock.
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("locked") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += chunk
        }
        #expect(String(decoding: seen, as: UTF8.self).contains("locked"))
        let second = try store.save(Fixtures.everyKind(), meta: Fixtures.meta)
        sqlite.waitUntilExit()
        #expect(sqlite.terminationStatus == 0)
        #expect(try store.resolve("held") == first)
        #expect(try store.records(of: second) == Fixtures.everyKind())
    }

    @Test func aProcessKilledWhileSavingLeavesNoHalfSnapshot() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.db")
        let child = Process()
        child.executableURL = URL(fileURLWithPath: try bench())
        child.arguments = ["save-many", path, "1000"]
        try child.run()
        // Let it commit a few snapshots, then kill it wherever it is.
        var saved = 0
        for _ in 0..<200 where saved < 3 {
            usleep(50_000)
            saved = (try? Fixtures.query(path, "SELECT count(*) AS n FROM snapshots").first?["n"] as? Int) ?? 0
        }
        usleep(useconds_t(Int.random(in: 0..<100_000)))
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        #expect(child.terminationReason == .uncaughtSignal)

        let store = try SnapshotStore(path: path)
        #expect(try store.list().count >= 3)
        try expectWholeSnapshots(store)
        // The next save and a collection work on the recovered file.
        _ = try store.save([Fixtures.bigMap(20_000)], meta: Fixtures.meta)
        try store.collectGarbage()
        try expectWholeSnapshots(store)
    }

    @Test func aSaveFailingAtItsLastMomentLeavesNothing() throws {
        let dir = TemporaryDirectory()
        let store = try SnapshotStore(path: dir.file("s.db"))
        let kept = try store.save(Fixtures.everyKind(), meta: Fixtures.meta)
        let before = try store.usedBytes()
        struct Interrupted: Error {}
        #expect(throws: Interrupted.self) {
            try store.save([Fixtures.bigMap(50_000)], meta: SnapshotMeta(segmentName: "x", host: "h", generation: 1, tags: ["t"]),
                           beforeCommit: { _ in throw Interrupted() })
        }
        #expect(try store.list().map(\.id) == [kept])
        #expect(throws: SnapshotError.unknownSnapshot("t")) { try store.resolve("t") }
        let rows = try Fixtures.query(dir.file("s.db"), "SELECT (SELECT count(*) FROM chunk_entries) AS entries, (SELECT count(*) FROM snapshot_handlers) AS handlers")
        #expect(rows.first?["entries"] as? Int == 3 + 2 + 3)   // the first snapshot's three maps only
        #expect(rows.first?["handlers"] as? Int == 13)
        #expect(try store.usedBytes() <= before + 8192)
        #expect(try store.integrityCheck() == ["ok"])
    }
}

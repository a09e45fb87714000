import BPFModel
import BPFSegment
import Foundation
import Glibc
import Testing

/// Targets, the tool and this test as separate processes on one segment.
@Suite(.serialized) struct ReliabilityTests {
    /// A segment holding the demo state (call counts per pid in hash map fd 3), its snapshot
    /// database, and the environment that points the tool at both.
    final class Scene {
        let name = "bpftime_agent_rel_\(getpid())_\(UInt32.random(in: 0 ... .max))"
        let files: URL
        let environment: [String: String]
        let segment: Segment

        init() throws {
            files = FileManager.default.temporaryDirectory.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: files, withIntermediateDirectories: true)
            environment = ["BPFTIME_GLOBAL_SHM_NAME": name, "BPFTIME_SNAP_DB": files.appendingPathComponent("snapshots.db").path]
            let imported = try run(Built.tool, ["import", try demoState(for: name).path], environment: environment)
            guard imported.ok else { throw TestFailure("import: \(imported.stderr)") }
            segment = try Segment.open(name: name)
        }

        deinit {
            try? Segment.remove(name: name)
            try? FileManager.default.removeItem(at: files)
        }

        func tool(_ arguments: [String]) throws -> Outcome { try run(Built.tool, arguments, environment: environment, seconds: 60) }
        func target(_ arguments: [String] = []) throws -> Child {
            try Child(Built.target, ["--report-every", "100000000"] + arguments, environment: environment)
        }
        func file(_ name: String) -> URL { files.appendingPathComponent(name) }

        /// Calls counted per pid, read under the segment lock.
        func counts() throws -> [UInt32: UInt64] {
            let contents = try segment.map(at: 3).contents()
            var counts: [UInt32: UInt64] = [:]
            for i in 0 ..< contents.count {
                let key = contents.key(at: i).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                counts[key] = contents.value(at: i).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            }
            return counts
        }

        /// Waits until `pid` has been counted more than `above` times.
        func waitForCount(of pid: Int32, above: UInt64 = 0, seconds: Double = 20) throws -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if try counts()[UInt32(pid)] ?? 0 > above { return true }
                usleep(2000)
            }
            return false
        }
    }

    /// Every pid's count in `middle` lies between its counts in `low` and `high`.
    func between(_ low: [UInt32: UInt64], _ middle: [UInt32: UInt64], _ high: [UInt32: UInt64]) -> Bool {
        Set(low.keys).union(middle.keys).union(high.keys).allSatisfy { pid in
            (low[pid] ?? 0) <= (middle[pid] ?? 0) && (middle[pid] ?? 0) <= (high[pid] ?? 0)
        }
    }

    @Test func targetsKeepFiringWhileTheToolExportsImportsSavesAndRestores() throws {
        let scene = try Scene()
        let extra = scene.file("extra.json")
        try Data(#"{"20": {"attr": {"prog_fd": 5, "target_fd": 6}, "type": "bpf_link_handler"}}"#.utf8).write(to: extra)
        let base = try scene.tool(["snap", "save", "-m", "base"])
        try #require(base.ok, "\(base.stderr)")
        let baseID = base.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        let targets = try [scene.target(), scene.target()]
        defer { for t in targets { _ = t.stop() } }
        for t in targets { try #require(try scene.waitForCount(of: t.pid), "target \(t.pid) never counted") }

        var previous = try scene.counts()
        var rounds = 0, wentBackwards: [String] = [], notExisting: [String] = []
        func sample(_ step: String) throws {
            let now = try scene.counts()
            for (pid, count) in previous where (now[pid] ?? 0) < count { wentBackwards.append("\(step): pid \(pid) \(count) -> \(now[pid] ?? 0)") }
            previous = now
        }
        let deadline = Date().addingTimeInterval(4)
        while Date() < deadline {
            rounds += 1
            let beforeExport = try scene.counts()
            let exported = try scene.tool(["export", scene.file("export.json").path])
            try #require(exported.ok, "export: \(exported.stderr)")
            try sample("export")
            if !between(beforeExport, try demoCounts(inExport: scene.file("export.json")), previous) { notExisting.append("export of round \(rounds)") }

            let beforeSave = try scene.counts()
            let saved = try scene.tool(["snap", "save", "-m", "round \(rounds)"])
            try #require(saved.ok, "snap save: \(saved.stderr)")
            try sample("snap save")
            let id = saved.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let snapshot = try scene.tool(["snap", "export", id, scene.file("snapshot.json").path])
            try #require(snapshot.ok, "snap export: \(snapshot.stderr)")
            if !between(beforeSave, try demoCounts(inExport: scene.file("snapshot.json")), previous) { notExisting.append("snapshot \(id)") }

            let imported = try scene.tool(["import", extra.path])
            try #require(imported.ok, "import: \(imported.stderr)")
            try sample("import")

            let restored = try scene.tool(["snap", "restore", baseID])
            try #require(restored.ok, "snap restore: \(restored.stderr)")
            previous = try scene.counts() // a restore may take counters back
        }
        #expect(rounds >= 2)
        #expect(wentBackwards.isEmpty, "\(wentBackwards)")
        #expect(notExisting.isEmpty, "states that never existed: \(notExisting)")
        for t in targets {
            #expect(t.process.isRunning, "target \(t.pid) died: \(t.stdout)")
            // After the last restore the targets count again.
            #expect(try scene.waitForCount(of: t.pid, above: previous[UInt32(t.pid)] ?? 0))
        }
        let check = try scene.tool(["check"])
        #expect(check.ok, "\(check.stdout) \(check.stderr)")
    }

    @Test func aTargetKilledUnderTheLockDoesNotStopTheOthers() throws {
        let scene = try Scene()
        // Count with map_update_elem, three times per call: targets then spend most of their
        // time under the lock.
        try scene.segment.apply([Fixture.program(8, "count_by_update", Asm.countByUpdate(map: 3))]
                                + (9 ... 11).map { Fixture.link($0, program: 8, target: 6) }, removing: [7])
        let survivor = try scene.target()
        defer { _ = survivor.stop() }
        try #require(try scene.waitForCount(of: survivor.pid))
        let recoveriesBefore = scene.segment.status().recoveries
        var attempts = 0
        let deadline = Date().addingTimeInterval(20)
        // A kill lands under the lock when the next locker has to repair the segment.
        while scene.segment.status().recoveries == recoveriesBefore && Date() < deadline {
            attempts += 1
            let victim = try scene.target()
            defer { _ = victim.stop() } // also when waiting for it fails: never leave a target running
            try #require(try scene.waitForCount(of: victim.pid))
            usleep(UInt32.random(in: 0 ... 3000))
            kill(victim.pid, SIGKILL)
        }
        #expect(scene.segment.status().recoveries > recoveriesBefore, "no kill out of \(attempts) landed under the lock")
        let counted = try scene.counts()[UInt32(survivor.pid)] ?? 0
        #expect(try scene.waitForCount(of: survivor.pid, above: counted, seconds: 5), "the surviving target stopped counting")
        #expect(survivor.process.isRunning)
        let check = try scene.tool(["check"])
        #expect(check.ok, "\(check.stdout) \(check.stderr)")
    }

    @Test func removingTheSegmentTurnsARunningTargetsHooksIntoNoOps() throws {
        let scene = try Scene()
        let target = try Child(Built.target, ["--iterations", "400", "--interval-ms", "2", "--report-every", "400"], environment: scene.environment)
        try #require(try scene.waitForCount(of: target.pid))
        let removed = try scene.tool(["remove"])
        try #require(removed.ok, "\(removed.stderr)")
        let outcome = target.wait(seconds: 60)
        #expect(outcome.ok, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("calls=400 program_runs=") && outcome.stdout.contains("(segment removed)"), "\(outcome.stdout)")
        #expect(outcome.stderr.components(separatedBy: "was removed").count == 2, "expected one warning: \(outcome.stderr)")
    }

    /// Truncated to nothing (header included) or to its first pages (maps cut off): the target
    /// keeps running, its hooks become no-ops, and it says so once, instead of dying of SIGBUS.
    @Test(arguments: [0, 8192])
    func truncatingTheSegmentUnderARunningTargetMakesItsHooksNoOps(_ bytes: Int) throws {
        let scene = try Scene()
        let target = try Child(Built.target, ["--iterations", "400", "--interval-ms", "2", "--report-every", "400"], environment: scene.environment)
        try #require(try scene.waitForCount(of: target.pid))
        let fd = shm_open("/" + scene.name, O_RDWR, 0)
        try #require(fd >= 0)
        #expect(ftruncate(fd, off_t(bytes)) == 0)
        close(fd)
        let outcome = target.wait(seconds: 60)
        #expect(outcome.ok && !outcome.signaled, "status \(outcome.status): \(outcome.stderr)")
        #expect(outcome.stdout.contains("calls=400 program_runs="), "\(outcome.stdout)")
        #expect(outcome.stderr.components(separatedBy: "was truncated").count == 2, "expected one warning: \(outcome.stderr)")
    }

    // MARK: Corruption

    /// Runs check, export and a target on a corrupted copy of the scene's segment bytes.
    func onCorruptCopy(_ scene: Scene, _ corrupt: (inout [UInt8]) -> Void) throws -> (check: Outcome, export: Outcome, target: Outcome) {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "/dev/shm/\(scene.name)")))
        corrupt(&bytes)
        let copy = scene.name + "_copy"
        let path = "/dev/shm/\(copy)"
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600]) else {
            throw TestFailure("cannot write \(path)")
        }
        defer { unlink(path) }
        return (try scene.tool(["check", "--shm", copy]),
                try scene.tool(["export", scene.file("corrupt.json").path, "--shm", copy]),
                try run(Built.target, ["--shm", copy, "--iterations", "200"], environment: scene.environment, seconds: 60))
    }

    static func u64(_ bytes: [UInt8], _ at: Int) -> Int {
        guard at >= 0, at + 8 <= bytes.count else { return -1 }
        return Int(truncatingIfNeeded: bytes[at ..< at + 8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }

    static func put(_ bytes: inout [UInt8], _ at: Int, _ garbage: [UInt8]) {
        for (i, b) in garbage.enumerated() where at + i >= 0 && at + i < bytes.count { bytes[at + i] = b }
    }

    /// Layout facts from the header (see BPFSegment's Header): table at u64 64, slot = 8 bytes
    /// per fd, record block: magic, kind, map storage offset at +8.
    static func slot(_ bytes: [UInt8], _ fd: Int) -> Int { u64(bytes, u64(bytes, 64) + fd * 8) }

    @Test(arguments: ["magic", "table slot", "handler record", "map storage", "handler count"])
    func aCorruptedSegmentIsReportedAndRefused(_ part: String) throws {
        let scene = try Scene()
        let result = try onCorruptCopy(scene) { bytes in
            switch part {
            case "magic": Self.put(&bytes, 0, [0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4])
            case "table slot": Self.put(&bytes, Self.u64(bytes, 64) + 4 * 8, [0x18, 0x10, 0, 0, 0, 0, 0, 0])
            case "handler record": Self.put(&bytes, Self.slot(bytes, 6), [0x55, 0x55, 0x55, 0x55])
            case "map storage": Self.put(&bytes, Self.u64(bytes, Self.slot(bytes, 3) + 8), [UInt8](repeating: 0xA5, count: 24))
            default: Self.put(&bytes, 56, [99])
            }
        }
        for (what, outcome) in [("check", result.check), ("target", result.target)] {
            #expect(!outcome.signaled && !outcome.timedOut, "\(what) crashed or hung: \(outcome.stderr)")
            #expect(outcome.status != 0, "\(what) accepted a segment with a corrupt \(part)")
            #expect(!(outcome.stdout + outcome.stderr).isEmpty, "\(what) gave no message")
        }
        #expect(!result.export.signaled && !result.export.timedOut, "export crashed or hung: \(result.export.stderr)")
        if part != "handler count" { // export reads handlers, not the count
            #expect(result.export.status != 0 && result.export.stderr.contains("corrupt") || result.export.stderr.contains("not a bpftimetool"),
                    "export: \(result.export.status) \(result.export.stderr)")
        }
    }

    @Test func randomGarbageNeverCrashesCheckExportOrTheAgent() throws {
        let scene = try Scene()
        var rng = SystemRandomNumberGenerator()
        for round in 0 ..< 16 {
            let result = try onCorruptCopy(scene) { bytes in
                let table = Self.u64(bytes, 64), heap = Self.u64(bytes, 88), used = Self.u64(bytes, 96)
                // The header except its mutex (garbage there costs each process a 10 s lock
                // timeout, a clean but slow refusal), the first table slots, the used heap.
                let regions = [0 ..< 192 - 8, 256 ..< 4096, table ..< table + 64 * 8, heap ..< heap + max(used, 64)]
                for _ in 0 ..< 6 {
                    let region = regions[Int.random(in: 0 ..< regions.count, using: &rng)]
                    let at = Int.random(in: region, using: &rng)
                    Self.put(&bytes, at, (0 ..< 8).map { _ in UInt8.random(in: 0 ... 255, using: &rng) })
                }
            }
            for (what, outcome) in [("check", result.check), ("export", result.export), ("target", result.target)] {
                #expect(!outcome.signaled && !outcome.timedOut, "round \(round): \(what) crashed or hung: \(outcome.stderr.suffix(500))")
            }
            if result.check.status != 0 {
                #expect(result.target.status != 0, "round \(round): the agent ran on a segment check rejects")
            }
        }
    }
}

@testable import BPFSegment
@testable import BPFState
import BPFModel
import BPFSnapshots
import Foundation
import Testing

extension StateTests {
    /// A child process is SIGKILLed at points inside a restore: the segment is then the state
    /// before or the state after, never a mix, and the history is sound and holds no undo
    /// snapshot of a restore whose transaction never committed.
    @Suite struct CrashTests {
        enum Point { case step(RestoreStep), segment(CrashPoint) }

        @Test(arguments: [
            (Point.step(.undoWritten), false), (.segment(.applyInPlace), false), (.segment(.applyBuilt), false),
            (.segment(.applySwitching), true), (.step(.applied), true),
        ])
        func killedInsideRestore(_ point: Point, endsRestored: Bool) throws {
            try Scratch.with { s in
                try s.state.importRecords([hashMap(fd: 3, keys: Array(0 ..< 1000)), constantProgram(fd: 4, 1)])
                let saved = try s.state.save(to: s.store()).id
                let shm = try s.state.open()
                try shm.map(at: 3).update(key: le32(7), value: le64(700))
                try s.state.unload(4)
                try s.state.load(constantProgram(fd: 5, 2))
                let before = try s.state.read().records
                let target = try s.store().records(of: saved)

                let child = ChildProcess.fork { reached in
                    switch point {
                    case .step(let step): restoreStepHook = { if $0 == step { reached() } }
                    case .segment(let at): crashPointHook = { if $0 == at { reached() } }
                    }
                    _ = try? s.state.restore(RestoreRequest(snapshot: saved), store: s.store())
                }
                #expect(child.killAtPoint(), "the child reached \(point)")

                let after = try s.state.read().records // locking recovers the segment
                #expect(shm.check() == [])
                if endsRestored {
                    #expect(SnapshotDiffer.diff(after, target).isEmpty, "the restore was completed")
                } else {
                    #expect(after == before, "the segment is as it was")
                }
                let store = try s.store()
                #expect(try store.integrityCheck() == ["ok"])
                #expect(try store.list().map(\.id) == [saved], "an uncommitted restore leaves no snapshot")
            }
        }
    }
}

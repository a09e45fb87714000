import BPFModel
@testable import BPFSnapshots
import Testing

@Suite struct RestorePlannerTests {
    let target = Fixtures.everyKind()
    /// The segment now: program 12 and link 13 gone, perf event 7 disabled, a new memfd at 30.
    var current: [HandlerRecord] {
        var records = target.filter { $0.fd != 12 && $0.fd != 13 }
        records[records.firstIndex { $0.fd == 7 }!].handler = .perfEvent(PerfEventHandler(
            event: .uprobe(.init(moduleName: "/lib/libc.so.6", offset: 0x1234, pid: 42, refCtrOffset: 8)), enabled: false))
        return records + [HandlerRecord(fd: 30, handler: .memfd(MemfdHandler(name: "later")))]
    }

    @Test func fullRestore() throws {
        let plan = try RestorePlanner.plan(target: target, current: current, onlyFDs: nil, withDependencies: false)
        #expect(plan.create.map(\.fd) == [12, 13])          // program before the link that refers to it
        #expect(plan.replace.map(\.fd) == [7])
        #expect(plan.remove == [30])
        #expect(try RestorePlanner.plan(target: target, current: target, onlyFDs: nil, withDependencies: false).isEmpty)
    }

    @Test func selectiveRestoreTouchesOnlyTheNamedFDs() throws {
        let plan = try RestorePlanner.plan(target: target, current: current, onlyFDs: [7, 30], withDependencies: false)
        #expect(plan == RestorePlan(create: [], replace: [target[4]], remove: [30]))
    }

    @Test func missingDependenciesAreRefusedOrPulledIn() throws {
        // Link 13 refers to program 12 (absent now) and perf event 7.
        #expect(throws: SnapshotError.missingDependencies([13: [12]])) {
            try RestorePlanner.plan(target: target, current: current, onlyFDs: [13], withDependencies: false)
        }
        let plan = try RestorePlanner.plan(target: target, current: current, onlyFDs: [13], withDependencies: true)
        // The program comes along; so does perf event 7, which it is attached to and which differs.
        #expect(plan.create.map(\.fd) == [12, 13])
        #expect(plan.replace.map(\.fd) == [7])
        #expect(plan.remove.isEmpty)

        // Removing what a kept handler refers to is refused too.
        let withExtra = target + [HandlerRecord(fd: 40, handler: .link(LinkHandler(programFD: 12, targetFD: 41)))]
        #expect(throws: SnapshotError.missingDependencies([40: [41]])) {
            try RestorePlanner.plan(target: target, current: withExtra + [HandlerRecord(fd: 41, handler: .epoll)], onlyFDs: [41], withDependencies: true)
        }
        #expect(throws: SnapshotError.unknownFDs([99])) {
            try RestorePlanner.plan(target: target, current: current, onlyFDs: [99], withDependencies: false)
        }
    }
}

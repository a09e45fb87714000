import BPFModel

/// Which programs run on which perf events, read from one consistent copy of the handler
/// table. Only enabled events of this process (pid -1 or ours) are kept.
struct DispatchPlan {
    struct Run {
        /// Programs run in this order: bpftime hands out fds in creation order, so the fd of
        /// the attaching handler (the program for `attach_fds`, the link for links) is the
        /// attach order.
        var order: Int
        var programFD: Int
        var cookie: UInt64
        /// The event is a `uprobe_override`: the program's `bpf_override_return` is honoured.
        var overrides = false
    }

    struct EventRuns {
        var event: PerfEventHandler.Event
        var runs: [Run]

        mutating func add(_ run: Run) {
            var run = run
            if case .uprobeOverride = event { run.overrides = true }
            runs.append(run)
        }
    }

    var events: [EventRuns]

    init(_ records: [HandlerRecord], pid: Int32) {
        var byEvent: [Int: EventRuns] = [:]
        for record in records {
            guard case .perfEvent(let perf) = record.handler, perf.enabled, Self.concerns(perf.event, pid: pid) else { continue }
            byEvent[record.fd] = EventRuns(event: perf.event, runs: [])
        }
        for record in records {
            switch record.handler {
            case .program(let program):
                for attachment in program.attachments where byEvent[attachment.targetFD] != nil {
                    byEvent[attachment.targetFD]?.add(Run(order: record.fd, programFD: record.fd, cookie: attachment.cookie))
                }
            case .link(let link) where byEvent[link.targetFD] != nil:
                byEvent[link.targetFD]?.add(Run(order: record.fd, programFD: link.programFD, cookie: link.cookie))
            default:
                break
            }
        }
        events = byEvent.keys.sorted().compactMap { byEvent[$0] }.filter { !$0.runs.isEmpty }
    }

    /// The programs a hook runs, in attach order, over every matching event.
    func runs(for hook: Hook) -> [Run] {
        events.filter { hook.matches($0.event) }.flatMap(\.runs).sorted { $0.order < $1.order }
    }

    /// The program fds some event runs.
    var programFDs: Set<Int> { Set(events.flatMap { $0.runs.map(\.programFD) }) }

    /// An event with a pid fires only in that process; -1 (or 0) means every process.
    private static func concerns(_ event: PerfEventHandler.Event, pid: Int32) -> Bool {
        switch event {
        case .uprobe(let target), .uretprobe(let target), .uprobeOverride(let target):
            target.pid <= 0 || target.pid == pid
        case .tracepoint(let eventPID, _):
            eventPID <= 0 || eventPID == pid
        case .software, .opaque:
            false
        }
    }
}

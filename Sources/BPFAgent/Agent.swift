import BPFLogging
import BPFModel
import BPFRuntime
import BPFSegment
import BPFVM
import Glibc
import Logging
import Synchronization

/// Runs a segment's programs at the hooks of this process, as bpftime's agent does.
///
/// Hooks are resolved once to a `HookID`; firing one reads the segment's table generation
/// (one atomic load) and, when nothing changed, looks up the hook's precomputed programs. A
/// changed table (import, load, restore, remove of handlers) is picked up at the next fire.
/// A segment removed with `bpftimetool remove` turns every hook into a no-op.
///
/// Not thread-safe: fire from one thread at a time (open one agent per thread).
public final class Agent {
    public let segment: Segment
    public let options: AgentOptions
    /// The segment's table generation, read at every fire.
    private let generationWord: UnsafeMutablePointer<Atomic<UInt64>>

    // The fields every fire reads or writes are exempt from dynamic exclusivity checks
    // (`@exclusivity(unchecked)`): an agent fires from one thread at a time.
    /// Hooks by id, and the programs each runs: `spans[id]` indexes `routes`.
    private var hooks: [Hook] = []
    private var ids: [Hook: HookID] = [:]
    /// Hook names already parsed (`resolve(named:)`), so that firing by name parses once.
    private var named: [String: HookID] = [:]
    @exclusivity(unchecked) private var spans: [Span] = []
    @exclusivity(unchecked) private var routes: ContiguousArray<Route> = []
    /// The engines of the current table by program fd; `routes` point at them.
    private var engines: [Int: LoadedEngine] = [:]

    private var plan = DispatchPlan([], pid: 0)
    @exclusivity(unchecked) private var builtGeneration: UInt64
    @exclusivity(unchecked) private var firesUntilLivenessCheck: Int
    /// When the segment's existence was last checked (CLOCK_MONOTONIC_COARSE, ns).
    private var lastLivenessCheck: UInt64 = 0
    private var liveness: ShmLiveness?
    public private(set) var isDetached = false

    /// The calling thread's stack, where a hooked call's sp lies (see `ThreadStack`).
    @exclusivity(unchecked) private var threadStack = ThreadStack()
    /// A private copy of the context: programs may write it, callers may pass read-only memory.
    @exclusivity(unchecked) private var scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 16)
    /// Programs whose fault was already logged in the current table (one line per program).
    private var loggedFaults = Set<Int>()
    /// Programs whose ignored `bpf_override_return` was already logged in the current table.
    private var loggedIgnoredOverrides = Set<Int>()
    private let log = BPFLog.logger("bpftime.agent")
    private let pid = getpid()

    struct Span { var start: Int; var count: Int }
    /// A program to run: `engines` keeps its engine (and the run state it owns) alive.
    struct Route {
        var object: UnsafeMutableRawPointer; var kind: AgentOptions.Engine; var cookie: UInt64; var programFD: Int
        var state: UnsafeMutablePointer<RunState>
        /// Attached to a `uprobe_override` event: its `bpf_override_return` is honoured.
        var overrides: Bool
    }

    /// Maps the segment and loads its programs; refuses a segment that fails `check()`. A
    /// segment truncated by another process later is guarded against (no SIGBUS) and dropped.
    public static func open(segmentName: String, options: AgentOptions = AgentOptions()) throws -> Agent {
        let segment = try Segment.open(name: segmentName)
        segment.guardAgainstTruncation()
        let liveness = ShmLiveness(name: segmentName, mappedBytes: segment.status().sizeBytes)
        let problems = segment.check()
        guard problems.isEmpty else {
            liveness?.close()
            throw AgentError.inconsistentSegment(name: segmentName, problems: problems)
        }
        let agent = Agent(segment: segment, options: options, liveness: liveness)
        try agent.rebuild()
        return agent
    }

    private init(segment: Segment, options: AgentOptions, liveness: ShmLiveness?) {
        self.segment = segment
        self.options = options
        self.liveness = liveness
        generationWord = segment.tableGenerationWord
        builtGeneration = segment.tableGeneration &- 1
        firesUntilLivenessCheck = options.livenessInterval
    }

    deinit {
        liveness?.close()
        scratch.deallocate()
    }

    // MARK: Hooks

    /// The id to fire `hook` by; the same hook always gets the same id.
    public func resolve(_ hook: Hook) -> HookID {
        if let id = ids[hook] { return id }
        let id = HookID(rawValue: Int32(hooks.count))
        hooks.append(hook)
        ids[hook] = id
        spans.append(Span(start: 0, count: 0))
        if !isDetached { place(hooks.count - 1) }
        return id
    }

    /// The id of a hook given in the syntax of `Hook(parsing:)`; each name is parsed once.
    public func resolve(named name: String) throws(HookError) -> HookID {
        if let id = named[name] { return id }
        let id = resolve(try Hook(parsing: name))
        named[name] = id
        return id
    }

    /// The number of programs `hook` would run now.
    public func programCount(_ id: HookID) -> Int {
        refreshNow()
        return spans.indices.contains(Int(id.rawValue)) ? spans[Int(id.rawValue)].count : 0
    }

    // MARK: Firing

    /// Runs the programs attached to `hook`'s enabled perf events with r1/r2 = a copy of
    /// `context` and its length. Returns how many programs ran to their exit (a program that
    /// faults is logged once and not counted), or -EINVAL for an id this agent never returned.
    @inline(__always)
    public func fire(_ id: HookID, context: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) -> Int {
        // No call on the way to the run, so that this needs no frame: a hook with nothing
        // attached returns from here, and one with programs jumps to `run`.
        guard isCurrent() else { return refreshAndFire(id, context) }
        guard let span = span(at: id) else { return -Int(EINVAL) }
        return span.count == 0 ? 0 : run(span, context)
    }

    @inline(never)
    private func refreshAndFire(_ id: HookID, _ context: UnsafeRawBufferPointer) -> Int {
        refresh()
        guard let span = span(at: id) else { return -Int(EINVAL) }
        return span.count == 0 ? 0 : run(span, context)
    }

    /// Runs the programs attached to `hook` with r1 = an x86-64 `struct pt_regs` holding
    /// `call`'s registers (what uprobe and uretprobe programs read), r2 = its size. Returns as
    /// `fire(_:context:)`.
    @inline(__always)
    public func fire(_ id: HookID, call: HookedCall) -> Int {
        var ignored: UInt64?
        return fire(id, call: call, returnOverride: &ignored)
    }

    /// As `fire(_:call:)`, at a function entry the embedder can skip. `returnOverride` is set
    /// when a program attached to a `uprobe_override` event called `bpf_override_return(ctx, rc)`
    /// or `bpf_set_retval(rc)` and ran to its exit: the hooked function must then not run, and
    /// its caller gets `rc` (the last such call wins). As in bpftime, the call has no effect in
    /// a program attached to a plain uprobe (it is logged once per program) or at a return.
    @inline(__always)
    public func fire(_ id: HookID, call: HookedCall, returnOverride: inout UInt64?) -> Int {
        returnOverride = nil
        guard let span = span(of: id) else { return -Int(EINVAL) }
        return span.count == 0 ? 0 : run(span, call, &returnOverride)
    }

    /// The hook's programs after picking up any table change; `nil` for an id never returned.
    @inline(__always)
    private func span(of id: HookID) -> Span? {
        if !isCurrent() { refresh() }
        return span(at: id)
    }

    /// Whether the table is the one built and no liveness check is due; counts a fire.
    @inline(__always)
    private func isCurrent() -> Bool {
        firesUntilLivenessCheck &-= 1
        return firesUntilLivenessCheck >= 0 && generationWord.pointee.load(ordering: .acquiring) == builtGeneration
    }

    @inline(__always)
    private func span(at id: HookID) -> Span? {
        let index = Int(id.rawValue)
        guard index >= 0, index < spans.count else { return nil }
        return spans[index]
    }

    public func fire(_ hook: Hook, context: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) -> Int {
        fire(resolve(hook), context: context)
    }

    @inline(never)
    private func run(_ span: Span, _ context: UnsafeRawBufferPointer) -> Int {
        let count = context.count
        var input = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        if count > 0, let source = context.baseAddress {
            if count > scratch.count {
                scratch.deallocate()
                scratch = .allocate(byteCount: count, alignment: 16)
            }
            copyToScratch(source, count)
            input = UnsafeMutableRawBufferPointer(start: scratch.baseAddress, count: count)
        }
        var ignored: UInt64?
        return runRoutes(span, input, readable: nil, &ignored)
    }

    /// Most contexts are a few words: copied a word at a time (the last word overlapping the one
    /// before when the size is no multiple of 8), they cost less than a memmove call.
    @inline(__always)
    private func copyToScratch(_ source: UnsafeRawPointer, _ count: Int) {
        let target = scratch.baseAddress.unsafelyUnwrapped
        guard count >= 8, count <= 64 else { return target.copyMemory(from: source, byteCount: count) }
        var offset = 0
        while offset < count &- 8 {
            target.storeBytes(of: source.loadUnaligned(fromByteOffset: offset, as: UInt64.self), toByteOffset: offset, as: UInt64.self)
            offset &+= 8
        }
        let last = count &- 8
        target.storeBytes(of: source.loadUnaligned(fromByteOffset: last, as: UInt64.self), toByteOffset: last, as: UInt64.self)
    }

    @inline(never)
    private func run(_ span: Span, _ call: HookedCall, _ returnOverride: inout UInt64?) -> Int {
        // scratch is never smaller than its initial 256 bytes, more than a pt_regs.
        call.write(to: scratch.baseAddress.unsafelyUnwrapped)
        return runRoutes(span, UnsafeMutableRawBufferPointer(rebasing: scratch[0 ..< X86PTRegs.size]),
                         readable: threadStack.above(call.sp), &returnOverride)
    }

    /// Runs the span's programs on `input` (a private copy they may write) and `readable` (memory
    /// they may read); `returnOverride` gets the last value a program allowed to override asked for.
    @inline(__always)
    private func runRoutes(_ span: Span, _ input: UnsafeMutableRawBufferPointer, readable: UnsafeRawBufferPointer?,
                           _ returnOverride: inout UInt64?) -> Int {
        // One program per hook is the usual case: then no loop state lives across the run.
        if span.count == 1 { return runRoute(routes[span.start], input, readable, &returnOverride) ? 1 : 0 }
        // Indexed each time: a buffer pointer over the whole loop would retain and release the
        // array around every fire.
        var completed = 0
        var i = span.start
        let end = span.start &+ span.count
        while i < end {
            if runRoute(routes[i], input, readable, &returnOverride) { completed &+= 1 }
            i &+= 1
        }
        return completed
    }

    /// Runs one program; whether it ran to its exit.
    @inline(__always)
    private func runRoute(_ route: Route, _ input: UnsafeMutableRawBufferPointer, _ readable: UnsafeRawBufferPointer?,
                          _ returnOverride: inout UInt64?) -> Bool {
        do {
            _ = try LoadedEngine.run(route.kind, route.object, input: input, cookie: route.cookie, readable: readable)
        } catch {
            noteFault(route.programFD, error)
            return false
        }
        if route.state.pointee.returnOverridden != 0 {
            if route.overrides { returnOverride = route.state.pointee.returnOverride } else { noteIgnoredOverride(route.programFD) }
        }
        return true
    }

    // Out of line, so that the run loop keeps a small frame: logging is the rare case.
    @inline(never)
    private func noteFault(_ programFD: Int, _ error: Error) {
        if loggedFaults.insert(programFD).inserted {
            log.warning("program at fd \(programFD) faulted: \(error) (further faults of it are not logged)")
        }
    }

    @inline(never)
    private func noteIgnoredOverride(_ programFD: Int) {
        if loggedIgnoredOverrides.insert(programFD).inserted {
            log.error("program at fd \(programFD) called bpf_override_return outside a uprobe_override event: ignored (further calls are not logged)")
        }
    }

    // MARK: Reloading

    /// Applies a table change, and notices a removed segment, now rather than at a later fire.
    public func refreshNow() { refresh(checkingLiveness: true) }

    /// Rebuilds after a table change. The segment's existence is checked on a change, and
    /// otherwise at most once per `livenessPeriod` (the coarse clock is read every
    /// `livenessInterval` fires), so that fast hooks pay nearly nothing for it.
    @inline(never)
    private func refresh(checkingLiveness: Bool = false) {
        firesUntilLivenessCheck = options.livenessInterval
        let generation = segment.tableGeneration
        guard !isDetached else {
            builtGeneration = generation
            return
        }
        let changed = generation != builtGeneration
        if checkingLiveness || changed || livenessDue(), let liveness {
            switch liveness.state {
            case .whole: break
            case .removed: return detach(because: "was removed")
            case .truncated: return detach(because: "was truncated by another process")
            }
        }
        guard changed else { return }
        do {
            try rebuild()
        } catch {
            // Hooks run nothing until the next change; the error is worth one line per change.
            log.error("segment \(segment.name): cannot load its handlers, hooks are disabled until the next change: \(error)")
            disable(at: generation)
        }
    }

    private func livenessDue() -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &now)
        let nanoseconds = UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
        guard nanoseconds &- lastLivenessCheck >= options.livenessPeriodNanoseconds else { return false }
        lastLivenessCheck = nanoseconds
        return true
    }

    private func detach(because reason: String) {
        isDetached = true
        disable(at: segment.tableGeneration)
        log.warning("segment \(segment.name) \(reason): hooks of this process now run nothing")
    }

    /// Every hook runs nothing until the table moves past `generation`.
    private func disable(at generation: UInt64) {
        plan = DispatchPlan([], pid: pid)
        routes = []
        engines = [:]
        for i in spans.indices { spans[i] = Span(start: 0, count: 0) }
        builtGeneration = generation
    }

    /// Reads the table once, builds an engine per attached program, and places every hook.
    private func rebuild() throws {
        let generation = segment.tableGeneration
        let records = try segment.records(includeContents: false)
        let newPlan = DispatchPlan(records, pid: pid)
        let maps = SegmentMapBackend(segment: segment)
        var engines: [Int: LoadedEngine] = [:]
        let attached = newPlan.programFDs
        for record in records where attached.contains(record.fd) {
            guard case .program(let handler) = record.handler else { continue }
            do {
                engines[record.fd] = try options.makeEngine(Program(bytecode: handler.bytecode), maps: maps)
            } catch {
                log.warning("program \(handler.name) at fd \(record.fd) is not run: \(error)")
            }
        }
        // Publish: every hook's routes from the new plan.
        plan = newPlan
        routes = []
        self.engines = engines
        for i in hooks.indices { place(i) }
        loggedFaults = []
        loggedIgnoredOverrides = []
        builtGeneration = generation
        log.debug("segment \(segment.name): table generation \(generation), \(engines.count) program(s) loaded")
    }

    /// Appends hook `index`'s routes and points its span at them.
    private func place(_ index: Int) {
        let runs = plan.runs(for: hooks[index]).compactMap { run in
            engines[run.programFD].map {
                Route(object: $0.object, kind: $0.kind, cookie: run.cookie, programFD: run.programFD, state: $0.state, overrides: run.overrides)
            }
        }
        spans[index] = Span(start: routes.count, count: runs.count)
        routes.append(contentsOf: runs)
    }
}

/// A hook resolved by an agent (`Agent.resolve`).
public struct HookID: Hashable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
}

public enum AgentError: Error, CustomStringConvertible {
    case inconsistentSegment(name: String, problems: [String])
    case unknownEngine(String)
    case invalidBudget(String)

    public var description: String {
        switch self {
        case .inconsistentSegment(let name, let problems):
            "the agent will not run the programs of an inconsistent segment (see `bpftimetool check --shm \(name)`): "
                + problems.prefix(5).joined(separator: "; ") + (problems.count > 5 ? "; and \(problems.count - 5) more" : "")
        case .unknownEngine(let name):
            "unknown engine \"\(name)\" (BPFTIME_AGENT_ENGINE): use one of \(AgentOptions.Engine.allCases.map(\.rawValue).joined(separator: ", "))"
        case .invalidBudget(let value):
            "invalid instruction budget \"\(value)\" (BPFTIME_AGENT_MAX_INSNS): give a positive number of instructions"
        }
    }
}

import BPFAgent
import BPFModel
import BPFObject
import TestSupport
import Testing

/// `bpf_override_return` / `bpf_set_retval` through the agent: honoured for programs on
/// `uprobe_override` events, ignored (as bpftime does) for programs on plain uprobes.
@Suite struct ReturnOverrideTests {
    let hook = Hook.uprobe(module: "/opt/app/demo-target", offset: 0x1234)

    /// override_return(ctx, di + add) then r0 = 0.
    static func overrideWithFirstArgument(plus add: Int32) -> [UInt8] {
        [Asm.load64(2, 1, Int16(X86PTRegs.di)), Asm.add(2, add), Asm.call(58), Asm.mov(0, 0), Asm.exit].flatMap { $0 }
    }
    /// set_retval(value) then r0 = 0.
    static func setRetval(_ value: Int32) -> [UInt8] { [Asm.mov(1, value), Asm.call(187), Asm.mov(0, 0), Asm.exit].flatMap { $0 } }

    @Test(arguments: AgentOptions.Engine.allCases)
    func programsOnUprobeOverrideEventsOverrideTheReturnValue(_ engine: AgentOptions.Engine) throws {
        let t = try TestSegment([
            Fixture.uprobe(3, module: "demo-target", offset: 0x1234, overriding: true),
            Fixture.program(4, "override", Self.overrideWithFirstArgument(plus: 100), attach: [.init(targetFD: 3)]),
        ])
        let agent = try Agent.open(segmentName: t.name, options: AgentOptions(engine: engine))
        var rc: UInt64?
        #expect(agent.fire(agent.resolve(hook), call: HookedCall(di: 5), returnOverride: &rc) == 1)
        #expect(rc == 105)
        // Each fire starts without an override: the value is the new call's.
        #expect(agent.fire(agent.resolve(hook), call: HookedCall(di: 7), returnOverride: &rc) == 1)
        #expect(rc == 107)
        // The return hook of the same function runs nothing of it and overrides nothing.
        #expect(agent.fire(agent.resolve(.uretprobe(module: "demo-target", offset: 0x1234)), call: HookedCall(di: 5), returnOverride: &rc) == 0)
        #expect(rc == nil)
    }

    @Test(arguments: AgentOptions.Engine.allCases)
    func theLastOverrideWinsAndProgramsWithoutOneLeaveIt(_ engine: AgentOptions.Engine) throws {
        let t = try TestSegment([
            Fixture.array(1),
            Fixture.uprobe(3, module: "demo-target", offset: 0x1234, overriding: true),
            Fixture.program(4, "first", Self.setRetval(1), attach: [.init(targetFD: 3)]),
            Fixture.program(5, "second", Self.setRetval(2), attach: [.init(targetFD: 3)]),
            Fixture.program(6, "counter", Asm.count(map: 1), attach: [.init(targetFD: 3)]),
        ])
        let agent = try Agent.open(segmentName: t.name, options: AgentOptions(engine: engine))
        var rc: UInt64?
        #expect(agent.fire(agent.resolve(hook), call: HookedCall(), returnOverride: &rc) == 3)
        #expect(rc == 2)
        #expect(try Fixture.value(t.segment, map: 1, slot: 0) == 1)
    }

    /// The agent reads a run's override from the engine's run state, found once per table: a
    /// program replaced between fires is read from its new engine, and a removed one not at all.
    @Test(arguments: AgentOptions.Engine.allCases)
    func aReplacedProgramsOverrideIsReadFromItsNewEngine(_ engine: AgentOptions.Engine) throws {
        let t = try TestSegment([
            Fixture.uprobe(3, module: "demo-target", offset: 0x1234, overriding: true),
            Fixture.program(4, "override", Self.setRetval(1), attach: [.init(targetFD: 3)]),
        ])
        let agent = try Agent.open(segmentName: t.name, options: AgentOptions(engine: engine))
        let id = agent.resolve(hook)
        var rc: UInt64?
        #expect(agent.fire(id, call: HookedCall(), returnOverride: &rc) == 1)
        #expect(rc == 1)
        try t.segment.apply([Fixture.program(4, "override", Self.setRetval(2), attach: [.init(targetFD: 3)])], replaceExisting: true)
        #expect(agent.fire(id, call: HookedCall(), returnOverride: &rc) == 1)
        #expect(rc == 2)
        try t.segment.apply([Fixture.program(4, "plain", Asm.mov(0, 0) + Asm.exit, attach: [.init(targetFD: 3)])], replaceExisting: true)
        #expect(agent.fire(id, call: HookedCall(), returnOverride: &rc) == 1)
        #expect(rc == nil)
        try t.segment.apply([], removing: [4])
        #expect(agent.fire(id, call: HookedCall(), returnOverride: &rc) == 0)
        #expect(rc == nil)
    }

    @Test(arguments: AgentOptions.Engine.allCases)
    func plainUprobesAndFaultingProgramsOverrideNothing(_ engine: AgentOptions.Engine) throws {
        // A plain uprobe's program calls override_return: bpftime ignores it (and logs), so do we.
        let plain = try TestSegment([
            Fixture.uprobe(3, module: "demo-target", offset: 0x1234),
            Fixture.program(4, "override", Self.overrideWithFirstArgument(plus: 1), attach: [.init(targetFD: 3)]),
        ])
        var rc: UInt64? = 99
        let agent = try Agent.open(segmentName: plain.name, options: AgentOptions(engine: engine))
        #expect(agent.fire(agent.resolve(hook), call: HookedCall(di: 5), returnOverride: &rc) == 1)
        #expect(rc == nil)
        // A program that overrides and then faults (reads address 0) did not run to its exit.
        let faulting = [Asm.mov(1, 3), Asm.call(187), Asm.mov(1, 0), Asm.load64(0, 1, 0), Asm.exit].flatMap { $0 }
        let t = try TestSegment([
            Fixture.uprobe(3, module: "demo-target", offset: 0x1234, overriding: true),
            Fixture.program(4, "faults", faulting, attach: [.init(targetFD: 3)]),
        ])
        let other = try Agent.open(segmentName: t.name, options: AgentOptions(engine: engine))
        #expect(other.fire(other.resolve(hook), call: HookedCall(), returnOverride: &rc) == 0)
        #expect(rc == nil)
    }
}

/// A clang-compiled program calling `bpf_override_return`, loaded as `prog load` loads it and
/// attached to a `uprobe_override` event as bpftime's `bpf_prog_attach_uprobe_with_override` does.
@Suite(.enabled(if: ExampleCompiler.clang != nil, Comment(rawValue: ExampleCompiler.skipReason)))
struct CompiledOverrideTests {
    static let source = """
        struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } calls SEC(".maps");

        SEC("uprobe")
        int BPF_KPROBE(deny_large, long n)
        {
            __u32 zero = 0;
            __u64 *count = bpf_map_lookup_elem(&calls, &zero);
            if (count)
                __sync_fetch_and_add(count, 1);
            if (n > 100)
                bpf_override_return(ctx, -n);
            return 0;
        }

        char LICENSE[] SEC("license") = "GPL";
        """

    @Test(arguments: AgentOptions.Engine.allCases)
    func aCompiledProgramOverridesLargeArguments(_ engine: AgentOptions.Engine) throws {
        let object = try BPFObject(bytes: try ExampleCompiler.compile(source: Self.source, name: "deny_large"),
                                   fileName: "deny_large.bpf.o", possibleCPUs: 4)
        let event = PerfEventHandler(event: .uprobeOverride(.init(moduleName: "demo-target", offset: 0x1234)), enabled: true)
        let t = try TestSegment(object.records(mapFDs: [3], programFDs: [4]) + [
            HandlerRecord(fd: 5, handler: .perfEvent(event)),
            HandlerRecord(fd: 6, handler: .link(LinkHandler(programFD: 4, targetFD: 5))),
        ])
        let agent = try Agent.open(segmentName: t.name, options: AgentOptions(engine: engine))
        let hook = agent.resolve(.uprobe(module: "/opt/app/demo-target", offset: 0x1234))
        var rc: UInt64?
        #expect(agent.fire(hook, call: HookedCall(di: 7), returnOverride: &rc) == 1)
        #expect(rc == nil)
        #expect(agent.fire(hook, call: HookedCall(di: 500), returnOverride: &rc) == 1)
        #expect(rc.map { Int64(bitPattern: $0) } == -500)
        #expect(try Fixture.value(t.segment, map: 3, slot: 0) == 2)
    }
}

import BPFAgent
import BPFModel
import BPFSegment
import Foundation
import Glibc
import Testing

@Suite struct AgentTests {
    let hook = Hook.uprobe(module: "/opt/app/demo-target", offset: 0x1234)

    @Test func hookWithNothingAttachedRunsNothing() throws {
        let t = try TestSegment([Fixture.array(1), Fixture.program(2, "p", Asm.appendDigit(map: 1, slot: 0, 7))])
        let agent = try Agent.open(segmentName: t.name)
        #expect(agent.fire(hook) == 0)
        #expect(agent.fire(.tracepoint(id: 5)) == 0)
        #expect(try Fixture.value(t.segment, map: 1, slot: 0) == 0)
        #expect(agent.fire(HookID(rawValue: 99)) == -Int(EINVAL))
    }

    @Test(arguments: AgentOptions.Engine.allCases)
    func programsRunInAttachOrderThroughAttachFDsAndLinks(_ engine: AgentOptions.Engine) throws {
        let t = try TestSegment([
            Fixture.array(1),
            Fixture.uprobe(3, module: "demo-target", offset: 0x1234),
            Fixture.program(4, "first", Asm.appendDigit(map: 1, slot: 0, 1), attach: [.init(targetFD: 3)]),
            Fixture.program(5, "second", Asm.appendDigit(map: 1, slot: 0, 2)),
            Fixture.program(6, "third", Asm.appendDigit(map: 1, slot: 0, 3), attach: [.init(targetFD: 3)]),
            Fixture.link(7, program: 5, target: 3),
        ])
        let agent = try Agent.open(segmentName: t.name, options: AgentOptions(engine: engine))
        #expect(agent.fire(hook) == 3)
        #expect(try Fixture.value(t.segment, map: 1, slot: 0) == 132) // fds 4, 6, then link 7 (program 5)
        #expect(agent.fire(hook) == 3)
        #expect(try Fixture.value(t.segment, map: 1, slot: 0) == 132_132)
    }

    @Test(arguments: AgentOptions.Engine.allCases)
    func cookiesComeFromTheAttachmentOrTheLink(_ engine: AgentOptions.Engine) throws {
        let t = try TestSegment([
            Fixture.array(1),
            Fixture.tracepoint(3, id: 42),
            Fixture.program(4, "by_attachment", Asm.storeCookie(map: 1, slot: 0), attach: [.init(targetFD: 3, cookie: 0xC0FFEE)]),
            Fixture.program(5, "by_link", Asm.storeCookie(map: 1, slot: 1)),
            Fixture.link(6, program: 5, target: 3, cookie: 77),
        ])
        let agent = try Agent.open(segmentName: t.name, options: AgentOptions(engine: engine))
        #expect(agent.fire(.tracepoint(id: 42)) == 2)
        #expect(try Fixture.value(t.segment, map: 1, slot: 0) == 0xC0FFEE)
        #expect(try Fixture.value(t.segment, map: 1, slot: 1) == 77)
    }

    @Test func disabledOtherProcessAndOtherKindEventsRunNothing() throws {
        let program = Asm.appendDigit(map: 1, slot: 0, 1)
        let t = try TestSegment([
            Fixture.array(1),
            Fixture.uprobe(3, module: "demo-target", offset: 0x1234, enabled: false),
            Fixture.uprobe(4, module: "demo-target", offset: 0x1234, pid: getpid() + 1),
            Fixture.uprobe(5, module: "demo-target", offset: 0x1234, returning: true),
            Fixture.uprobe(6, module: "other-target", offset: 0x1234),
            Fixture.program(7, "p", program, attach: [3, 4, 5, 6].map { .init(targetFD: $0) }),
        ])
        let agent = try Agent.open(segmentName: t.name)
        #expect(agent.fire(hook) == 0)
        #expect(agent.fire(.uretprobe(module: "demo-target", offset: 0x1234)) == 1)
        #expect(agent.fire(.uprobe(module: "/usr/bin/other-target", offset: 0x1234)) == 1)
        #expect(agent.fire(.uprobe(module: "other-target", offset: 0x1235)) == 0)
    }

    @Test(arguments: AgentOptions.Engine.allCases)
    func programsReadAPrivateCopyOfTheContext(_ engine: AgentOptions.Engine) throws {
        // map[0] = first 8 bytes of the context, map[1] = its length; then it zeroes the context.
        let code = Asm.withSlot(map: 1, slot: 0, prologue: [Asm.load64(6, 1, 0), Asm.movReg(7, 2), Asm.mov(8, 0), Asm.store64(1, 0, 8)],
                                [Asm.store64(0, 0, 6)]).dropLast(16)
            + Asm.withSlot(map: 1, slot: 1, [Asm.store64(0, 0, 7)])
        let t = try TestSegment([Fixture.array(1), Fixture.tracepoint(3, id: 1), Fixture.program(4, "ctx", Array(code), attach: [.init(targetFD: 3)])])
        let agent = try Agent.open(segmentName: t.name, options: AgentOptions(engine: engine))
        let context: [UInt64] = [0x1122_3344_5566_7788, 9]
        let ran = context.withUnsafeBytes { agent.fire(.tracepoint(id: 1), context: $0) }
        #expect(ran == 1)
        #expect(context == [0x1122_3344_5566_7788, 9])
        #expect(try Fixture.value(t.segment, map: 1, slot: 0) == 0x1122_3344_5566_7788)
        #expect(try Fixture.value(t.segment, map: 1, slot: 1) == 16)
    }

    /// Contexts of every length the copy treats differently (words, tail bytes, longer than a
    /// memmove threshold, longer than the agent's first buffer, then shorter again): the program
    /// reads the last byte and its length, and writes that byte in its copy, never the caller's.
    @Test(arguments: AgentOptions.Engine.allCases)
    func contextsOfAnyLengthAreCopiedWhole(_ engine: AgentOptions.Engine) throws {
        // r6 = &ctx[len - 1]; r7 = *r6; *r6 = 0xAA; r8 = len; map[0] = r7, map[1] = r8.
        let prologue = [Asm.movReg(6, 1), Asm.op(0x0f, dst: 6, src: 2), Asm.add(6, -1), Asm.op(0x71, dst: 7, src: 6),
                        Asm.op(0x72, dst: 6, imm: 0xAA), Asm.movReg(8, 2)]
        let code = Asm.withSlot(map: 1, slot: 0, prologue: prologue, [Asm.store64(0, 0, 7)]).dropLast(16)
            + Asm.withSlot(map: 1, slot: 1, [Asm.store64(0, 0, 8)])
        let t = try TestSegment([Fixture.array(1), Fixture.tracepoint(3, id: 1), Fixture.program(4, "last", Array(code), attach: [.init(targetFD: 3)])])
        let agent = try Agent.open(segmentName: t.name, options: AgentOptions(engine: engine))
        for length in [1, 7, 8, 9, 16, 17, 63, 64, 65, 300, 12] {
            let context = (0 ..< length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
            let ran = context.withUnsafeBytes { agent.fire(.tracepoint(id: 1), context: $0) }
            #expect(ran == 1, "length \(length)")
            #expect(context == (0 ..< length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }, "length \(length)")
            #expect(try Fixture.value(t.segment, map: 1, slot: 0) == UInt64(context[length - 1]), "length \(length)")
            #expect(try Fixture.value(t.segment, map: 1, slot: 1) == UInt64(length))
        }
    }

    @Test(arguments: AgentOptions.Engine.allCases)
    func callsGiveProgramsAnX86PtRegs(_ engine: AgentOptions.Engine) throws {
        let call = HookedCall(di: 11, si: 22, dx: 33, cx: 44, r8: 55, r9: 66, ax: 77, ip: 0x4000, sp: 0x7ff0)
        let fields = [(X86PTRegs.di, call.di), (X86PTRegs.si, call.si), (X86PTRegs.dx, call.dx), (X86PTRegs.cx, call.cx),
                      (X86PTRegs.r8, call.r8), (X86PTRegs.r9, call.r9), (X86PTRegs.ax, call.ax), (X86PTRegs.ip, call.ip),
                      (X86PTRegs.sp, call.sp), (X86PTRegs.offset(of: "bx")!, 0)]
        for (offset, expected) in fields {
            // map[0] = the 8 bytes at `offset` of the context, map[1] = the context's length.
            let code = Asm.withSlot(map: 1, slot: 0, prologue: [Asm.load64(6, 1, Int16(offset)), Asm.movReg(7, 2)], [Asm.store64(0, 0, 6)]).dropLast(16)
                + Asm.withSlot(map: 1, slot: 1, [Asm.store64(0, 0, 7)])
            let t = try TestSegment([Fixture.array(1), Fixture.uprobe(3, module: "demo-target", offset: 0x1234),
                                     Fixture.program(4, "regs", Array(code), attach: [.init(targetFD: 3)])])
            let agent = try Agent.open(segmentName: t.name, options: AgentOptions(engine: engine))
            #expect(agent.fire(agent.resolve(hook), call: call) == 1)
            #expect(try Fixture.value(t.segment, map: 1, slot: 0) == expected, "offset \(offset)")
            #expect(try Fixture.value(t.segment, map: 1, slot: 1) == UInt64(X86PTRegs.size))
        }
    }

    @Test(arguments: AgentOptions.Engine.allCases)
    func changesArePickedUpAtTheNextFire(_ engine: AgentOptions.Engine) throws {
        let t = try TestSegment([Fixture.array(1), Fixture.uprobe(3, module: "demo-target", offset: 0x1234),
                                 Fixture.program(4, "one", Asm.appendDigit(map: 1, slot: 0, 1))])
        let agent = try Agent.open(segmentName: t.name, options: AgentOptions(engine: engine))
        let id = agent.resolve(hook)
        #expect(agent.fire(id) == 0)
        try t.segment.apply([Fixture.link(5, program: 4, target: 3)])
        #expect(agent.fire(id) == 1)
        try t.segment.apply([Fixture.program(4, "two", Asm.appendDigit(map: 1, slot: 0, 2))], replaceExisting: true)
        #expect(agent.fire(id) == 1)
        #expect(try Fixture.value(t.segment, map: 1, slot: 0) == 12)
        try t.segment.apply([], removing: [5])
        #expect(agent.fire(id) == 0)
        #expect(try Fixture.value(t.segment, map: 1, slot: 0) == 12)
    }

    @Test func aReplacedMapIsUsedAfterTheChange() throws {
        let t = try TestSegment([Fixture.array(1), Fixture.tracepoint(3, id: 1),
                                 Fixture.program(4, "count", Asm.count(map: 1), attach: [.init(targetFD: 3)])])
        let agent = try Agent.open(segmentName: t.name)
        _ = agent.fire(.tracepoint(id: 1))
        try t.segment.apply([Fixture.array(1, entries: 4)], replaceExisting: true)
        #expect(agent.fire(.tracepoint(id: 1)) == 1)
        #expect(try Fixture.value(t.segment, map: 1, slot: 0) == 1)
    }

    @Test func aRemovedSegmentMakesHooksNoOps() throws {
        let t = try TestSegment([Fixture.array(1), Fixture.tracepoint(3, id: 1),
                                 Fixture.program(4, "count", Asm.count(map: 1), attach: [.init(targetFD: 3)])])
        let agent = try Agent.open(segmentName: t.name, options: AgentOptions(livenessInterval: 16, livenessPeriodMilliseconds: 0))
        let id = agent.resolve(.tracepoint(id: 1))
        #expect(agent.fire(id) == 1)
        try Segment.remove(name: t.name)
        var runs = 0
        for _ in 0 ..< 32 { runs += agent.fire(id) }
        #expect(agent.isDetached)
        #expect(runs < 17)
        #expect(agent.fire(id) == 0)
        // A new segment under the same name is another segment: the agent stays detached.
        let again = try Segment.create(SegmentConfiguration(name: t.name, sizeBytes: 1 << 20, maxHandlers: 64))
        _ = again
        #expect(agent.fire(id) == 0)
    }

    @Test(arguments: AgentOptions.Engine.allCases)
    func aProgramThatFaultsIsSkippedAndTheOthersRun(_ engine: AgentOptions.Engine) throws {
        let fault = [Asm.mov(1, 0), Asm.load64(0, 1, 0), Asm.exit].flatMap { $0 } // reads address 0
        let t = try TestSegment([Fixture.array(1), Fixture.tracepoint(3, id: 1),
                                 Fixture.program(4, "faults", fault, attach: [.init(targetFD: 3)]),
                                 Fixture.program(5, "count", Asm.count(map: 1), attach: [.init(targetFD: 3)])])
        let agent = try Agent.open(segmentName: t.name, options: AgentOptions(engine: engine))
        #expect(agent.fire(.tracepoint(id: 1)) == 1)
        #expect(agent.fire(.tracepoint(id: 1)) == 1)
        #expect(try Fixture.value(t.segment, map: 1, slot: 0) == 2)
    }

    @Test func aProgramTheVMRejectsIsNotRun() throws {
        let jumpsOut = [Asm.jeq(0, 0, 40), Asm.exit].flatMap { $0 }
        let t = try TestSegment([Fixture.array(1), Fixture.tracepoint(3, id: 1),
                                 Fixture.program(4, "bad", jumpsOut, attach: [.init(targetFD: 3)]),
                                 Fixture.program(5, "count", Asm.count(map: 1), attach: [.init(targetFD: 3)])])
        let agent = try Agent.open(segmentName: t.name)
        #expect(agent.programCount(agent.resolve(.tracepoint(id: 1))) == 1)
        #expect(agent.fire(.tracepoint(id: 1)) == 1)
    }

    @Test(arguments: AgentOptions.Engine.allCases)
    func perCPUCountersAddUp(_ engine: AgentOptions.Engine) throws {
        let t = try TestSegment([Fixture.array(1, type: Fixture.percpuArrayType), Fixture.tracepoint(3, id: 1),
                                 Fixture.program(4, "count", Asm.count(map: 1), attach: [.init(targetFD: 3)])])
        let agent = try Agent.open(segmentName: t.name, options: AgentOptions(engine: engine))
        let id = agent.resolve(.tracepoint(id: 1))
        for _ in 0 ..< 1000 { _ = agent.fire(id) }
        #expect(try Fixture.value(t.segment, map: 1, slot: 0) == 1000)
    }

    @Test func handlersCorruptedAfterOpenDisableHooksUntilTheNextChange() throws {
        let t = try TestSegment([Fixture.array(1), Fixture.tracepoint(3, id: 1),
                                 Fixture.program(4, "count", Asm.count(map: 1), attach: [.init(targetFD: 3)])])
        let agent = try Agent.open(segmentName: t.name)
        let id = agent.resolve(.tracepoint(id: 1))
        #expect(agent.fire(id) == 1)
        // Overwrite the program's record magic behind the segment's back, then change the table.
        let file = try FileHandle(forUpdating: URL(fileURLWithPath: "/dev/shm/\(t.name)"))
        defer { try? file.close() }
        func u64(_ at: UInt64) throws -> UInt64 {
            try file.seek(toOffset: at)
            return (try file.read(upToCount: 8) ?? Data()).reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }
        let record = try u64(try u64(64) + 4 * 8)
        try file.seek(toOffset: record)
        try file.write(contentsOf: Data([0x55, 0x55, 0x55, 0x55]))
        try t.segment.apply([HandlerRecord(fd: 9, handler: .epoll)])
        #expect(agent.fire(id) == 0)
        #expect(agent.fire(id) == 0)
        #expect(agent.programCount(id) == 0)
        #expect(!agent.isDetached)
    }

    @Test func openRefusesMissingAndForeignSegments() throws {
        #expect(throws: SegmentError.self) { try Agent.open(segmentName: "bpftime_agent_test_missing_\(getpid())") }
        let name = "bpftime_agent_test_foreign_\(getpid())"
        let fd = shm_open("/" + name, O_RDWR | O_CREAT | O_EXCL, 0o600)
        #expect(fd >= 0)
        defer { shm_unlink("/" + name); close(fd) }
        _ = ftruncate(fd, 1 << 16)
        #expect(throws: SegmentError.self) { try Agent.open(segmentName: name) }
    }
}

import BPFAgent
import BPFModel
import BPFSegment
import Testing

/// `bpf_perf_event_output` (25) into a perf_event_array's per-CPU rings in the segment, read
/// back (and consumed) as `map event-pipe` reads them.
@Suite struct PerfEventOutputTests {
    let hook = Hook.uprobe(module: "/opt/app/demo-target", offset: 0x1234)

    /// results[0] = perf_event_output(ctx, &events, flags, &[the call's first argument], 8).
    static func program(flags: Int32) -> [UInt8] {
        [
            Asm.load64(2, 1, Int16(X86PTRegs.di)), Asm.store64(10, -8, 2),
            Asm.loadMap(2, fd: 2), Asm.mov(3, flags), Asm.movReg(4, 10), Asm.add(4, -8), Asm.mov(5, 8), Asm.call(25), Asm.movReg(7, 0),
            Asm.mov(1, 0), Asm.store32(10, -12, 1), Asm.movReg(2, 10), Asm.add(2, -12), Asm.loadMap(1, fd: 1), Asm.call(1),
            Asm.jeq(0, 0, 1), Asm.store64(0, 0, 7),
            Asm.mov(0, 0), Asm.exit,
        ].flatMap { $0 }
    }

    static func segment(flags: Int32) throws -> TestSegment {
        let results = MapAttributes(mapType: Fixture.arrayType, keySize: 4, valueSize: 8, maxEntries: 1)
        let events = MapAttributes(mapType: MapKind.perfEventArray.linuxType, keySize: 4, valueSize: 4, maxEntries: 4)
        return try TestSegment([HandlerRecord(fd: 1, handler: .map(MapHandler(name: "results", attributes: results))),
                                HandlerRecord(fd: 2, handler: .map(MapHandler(name: "events", attributes: events))),
                                Fixture.uprobe(3, module: "demo-target", offset: 0x1234),
                                Fixture.program(4, "output", program(flags: flags), attach: [.init(targetFD: 3)])])
    }

    static func result(_ t: TestSegment) throws -> Int64 {
        let bytes = try #require(try t.segment.map(at: 1).lookup(key: [0, 0, 0, 0]))
        return Int64(bitPattern: bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) })
    }

    @Test(arguments: AgentOptions.Engine.allCases)
    func recordsGoToTheRingOfTheIndexAndAreConsumedOnce(_ engine: AgentOptions.Engine) throws {
        let t = try Self.segment(flags: 0)
        let agent = try Agent.open(segmentName: t.name, options: AgentOptions(engine: engine))
        for argument: UInt64 in [7, 8] {
            #expect(agent.fire(agent.resolve(hook), call: HookedCall(di: argument)) == 1)
            #expect(try Self.result(t) == 0)
        }
        let events = try t.segment.map(at: 2)
        let records = try events.perfEventRecords(consume: true)
        #expect(records.map(\.cpu) == [0, 0])
        #expect(records.map(\.record) == [[7, 0, 0, 0, 0, 0, 0, 0], [8, 0, 0, 0, 0, 0, 0, 0]])
        #expect(try events.perfEventRecords(consume: true).isEmpty, "consumed")
        #expect(t.segment.check() == [])
    }

    @Test func anIndexPastMaxEntriesIsE2BIGAndAFullRingENOSPC() throws {
        let t = try Self.segment(flags: 7)
        let agent = try Agent.open(segmentName: t.name, options: AgentOptions(engine: .interpreter))
        #expect(agent.fire(agent.resolve(hook), call: HookedCall(di: 1)) == 1)
        #expect(try Self.result(t) == -7)

        let full = try Self.segment(flags: 0)
        let second = try Agent.open(segmentName: full.name, options: AgentOptions(engine: .interpreter))
        // Records until the ring of CPU 0 is full: then -ENOSPC, and every record before it kept.
        var fired = 0
        repeat {
            #expect(second.fire(second.resolve(hook), call: HookedCall(di: UInt64(fired))) == 1)
            fired += 1
        } while try Self.result(full) == 0 && fired < 100_000
        #expect(try Self.result(full) == -28, "-ENOSPC")
        #expect(fired > 100, "a CPU's ring holds more than a few records")
        #expect(try full.segment.map(at: 2).perfEventRecords().count == fired - 1)
    }
}

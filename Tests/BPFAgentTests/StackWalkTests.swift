import BPFAgent
import BPFModel
import BPFSegment
import Testing

/// `bpf_get_stack` in the agent: the walk reads the calling thread's stack above the hook's sp,
/// and nothing else of the process.
@Suite struct StackWalkTests {
    let hook = Hook.uprobe(module: "/opt/app/demo-target", offset: 0x1234)

    /// map[0] = [get_stack(ctx, &map[0][8], 64, BPF_F_USER_STACK), the 8 addresses].
    static let program: [UInt8] = [
        Asm.movReg(6, 1), Asm.mov(1, 0), Asm.store32(10, -4, 1), Asm.movReg(2, 10), Asm.add(2, -4),
        Asm.loadMap(1, fd: 1), Asm.call(1), Asm.jeq(0, 0, 8),
        Asm.movReg(7, 0), Asm.movReg(1, 6), Asm.movReg(2, 7), Asm.add(2, 8), Asm.mov(3, 64), Asm.mov(4, 1 << 8),
        Asm.call(67), Asm.store64(7, 0, 0),
        Asm.mov(0, 0), Asm.exit,
    ].flatMap { $0 }

    static func segment() throws -> TestSegment {
        let stacks = MapAttributes(mapType: Fixture.arrayType, keySize: 4, valueSize: 72, maxEntries: 1)
        return try TestSegment([HandlerRecord(fd: 1, handler: .map(MapHandler(name: "stacks", attributes: stacks))),
                                Fixture.uprobe(3, module: "demo-target", offset: 0x1234),
                                Fixture.program(4, "stack", program, attach: [.init(targetFD: 3)])])
    }

    /// The stored value as 9 little-endian words: the byte count, then the addresses.
    static func stored(_ t: TestSegment) throws -> [UInt64] {
        let bytes = try #require(try t.segment.map(at: 1).lookup(key: [0, 0, 0, 0]))
        return stride(from: 0, to: 72, by: 8).map { at in bytes[at ..< at + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) } }
    }

    /// Three frames at `base`: [saved bp, return address] each, the last ending the chain.
    static func writeFrames(at base: UnsafeMutablePointer<UInt64>) {
        let address = UInt64(UInt(bitPattern: base))
        for (i, words) in [(address + 16, UInt64(0x1111)), (address + 32, 0x2222), (0, 0x3333)].enumerated() {
            base[2 * i] = words.0
            base[2 * i + 1] = words.1
        }
    }

    @Test(arguments: AgentOptions.Engine.allCases)
    func framesOnTheCallingThreadsStackAreWalked(_ engine: AgentOptions.Engine) throws {
        let t = try Self.segment()
        let agent = try Agent.open(segmentName: t.name, options: AgentOptions(engine: engine))
        var frames: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
        withUnsafeMutablePointer(to: &frames) { pointer in
            pointer.withMemoryRebound(to: UInt64.self, capacity: 6) { base in
                Self.writeFrames(at: base)
                let sp = UInt64(UInt(bitPattern: base))
                #expect(agent.fire(agent.resolve(hook), call: HookedCall(ip: 0x4000, sp: sp, bp: sp)) == 1)
            }
        }
        #expect(try Self.stored(t) == [32, 0x4000, 0x1111, 0x2222, 0x3333, 0, 0, 0, 0])
    }

    @Test(arguments: AgentOptions.Engine.allCases)
    func framesOffTheStackAreNotRead(_ engine: AgentOptions.Engine) throws {
        let t = try Self.segment()
        let agent = try Agent.open(segmentName: t.name, options: AgentOptions(engine: engine))
        let heap = UnsafeMutablePointer<UInt64>.allocate(capacity: 6)
        defer { heap.deallocate() }
        Self.writeFrames(at: heap)
        let address = UInt64(UInt(bitPattern: heap))
        // sp on the heap: no stack is granted, the walk ends at the ip without reading the frames.
        #expect(agent.fire(agent.resolve(hook), call: HookedCall(ip: 0x4000, sp: address, bp: address)) == 1)
        #expect(try Self.stored(t) == [8, 0x4000, 0, 0, 0, 0, 0, 0, 0])
        // A bp that is not a frame at all (an unmapped address) stops the walk the same way.
        #expect(agent.fire(agent.resolve(hook), call: HookedCall(ip: 0x5000, bp: 0xdead_0000)) == 1)
        #expect(try Self.stored(t) == [8, 0x5000, 0, 0, 0, 0, 0, 0, 0])
    }
}

/// `bpf_get_stackid` (27) with a stack_trace map (type 7) in the segment: the walk of
/// `get_stack`, stored under an id that the program gets back.
@Suite struct StackIDTests {
    let hook = Hook.uprobe(module: "/opt/app/demo-target", offset: 0x1234)

    /// ids[0] = get_stackid(ctx, &stacks, BPF_F_USER_STACK | flags).
    static func program(flags: Int32) -> [UInt8] {
        [
            Asm.movReg(6, 1), Asm.movReg(1, 6), Asm.loadMap(2, fd: 2), Asm.mov(3, 1 << 8 | flags), Asm.call(27), Asm.movReg(7, 0),
            Asm.mov(1, 0), Asm.store32(10, -4, 1), Asm.movReg(2, 10), Asm.add(2, -4), Asm.loadMap(1, fd: 1), Asm.call(1),
            Asm.jeq(0, 0, 1), Asm.store64(0, 0, 7),
            Asm.mov(0, 0), Asm.exit,
        ].flatMap { $0 }
    }

    /// A segment whose stack_trace map has room for `ids` stacks of up to 6 addresses.
    static func segment(ids: UInt32, flags: Int32 = 0) throws -> TestSegment {
        let result = MapAttributes(mapType: Fixture.arrayType, keySize: 4, valueSize: 8, maxEntries: 1)
        let stacks = MapAttributes(mapType: MapKind.stackTrace.linuxType, keySize: 4, valueSize: 48, maxEntries: ids)
        return try TestSegment([HandlerRecord(fd: 1, handler: .map(MapHandler(name: "ids", attributes: result))),
                                HandlerRecord(fd: 2, handler: .map(MapHandler(name: "stacks", attributes: stacks))),
                                Fixture.uprobe(3, module: "demo-target", offset: 0x1234),
                                Fixture.program(4, "stackid", program(flags: flags), attach: [.init(targetFD: 3)])])
    }

    static func words(_ bytes: [UInt8]) -> [UInt64] {
        stride(from: 0, to: bytes.count, by: 8).map { at in bytes[at ..< at + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) } }
    }

    /// Fires the hook with three frames on this thread's stack and the given ip; returns ids[0].
    static func fire(_ agent: Agent, _ hook: Hook, ip: UInt64, _ t: TestSegment) throws -> Int64 {
        var frames: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
        withUnsafeMutablePointer(to: &frames) { pointer in
            pointer.withMemoryRebound(to: UInt64.self, capacity: 6) { base in
                StackWalkTests.writeFrames(at: base)
                let sp = UInt64(UInt(bitPattern: base))
                #expect(agent.fire(agent.resolve(hook), call: HookedCall(ip: ip, sp: sp, bp: sp)) == 1)
            }
        }
        return Int64(bitPattern: words(try #require(try t.segment.map(at: 1).lookup(key: [0, 0, 0, 0])))[0])
    }

    @Test(arguments: AgentOptions.Engine.allCases)
    func stacksAreStoredUnderTheirID(_ engine: AgentOptions.Engine) throws {
        let t = try Self.segment(ids: 64)
        let agent = try Agent.open(segmentName: t.name, options: AgentOptions(engine: engine))
        let id = try Self.fire(agent, hook, ip: 0x4000, t)
        #expect(id >= 0 && id < 64)
        let key = withUnsafeBytes(of: UInt32(id).littleEndian) { Array($0) }
        #expect(Self.words(try #require(try t.segment.map(at: 2).lookup(key: key))) == [0x4000, 0x1111, 0x2222, 0x3333, 0, 0])
        #expect(try Self.fire(agent, hook, ip: 0x4000, t) == id, "the same stack has the same id")
        #expect(try t.segment.map(at: 2).contents().count == 1)
    }

    @Test func anIDHoldingAnotherStackIsEEXISTUnlessReused() throws {
        let t = try Self.segment(ids: 1)
        let agent = try Agent.open(segmentName: t.name, options: AgentOptions(engine: .interpreter))
        #expect(try Self.fire(agent, hook, ip: 0x4000, t) == 0)
        #expect(try Self.fire(agent, hook, ip: 0x5000, t) == -17, "one id, another stack: -EEXIST")
        let reusing = try Self.segment(ids: 1, flags: 1 << 10)
        let second = try Agent.open(segmentName: reusing.name, options: AgentOptions(engine: .interpreter))
        #expect(try Self.fire(second, hook, ip: 0x4000, reusing) == 0)
        #expect(try Self.fire(second, hook, ip: 0x5000, reusing) == 0)
        #expect(Self.words(try #require(try reusing.segment.map(at: 2).lookup(key: [0, 0, 0, 0])))[0] == 0x5000, "BPF_F_REUSE_STACKID overwrote it")
    }
}

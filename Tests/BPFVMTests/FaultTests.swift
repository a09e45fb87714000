import TestSupport
import Testing
import BPFModel
@testable import BPFVM

/// Runs that must end with a `VMError`, never a crash, and leave the VM usable.
@Suite struct FaultTests {
    @Test func loadPastTheInputThroughAComputedPointer() {
        let error = failure("mov %r3, %r1\nadd %r3, %r2\nldxb %r0, [%r3+0]\nexit", memory: [1, 2, 3, 4])
        #expect(error?.kind == .memoryViolation)
        #expect(error?.index == 2)
        #expect(error?.description.hasPrefix("instruction 2 (ldxb %r0, [%r3+0]): read of 1 bytes at 0x") == true)
        #expect(error?.description.hasSuffix("is outside the input (4 bytes)") == true, "\(error?.description ?? "")")
        // A load that straddles the end of the input.
        #expect(failure("ldxw %r0, [%r1+2]\nexit", memory: [1, 2, 3, 4])?.kind == .memoryViolation)
        #expect(failure("ldxw %r0, [%r1+0]\nexit", memory: [1, 2, 3, 4]) == nil)
    }

    @Test func storesOutsideTheStackFrame() {
        let below = failure("stdw [%r10-520], 1\nmov %r0, 0\nexit")
        #expect(below?.kind == .memoryViolation)
        #expect(below?.description.hasSuffix("is outside the stack frame") == true, "\(below?.description ?? "")")
        #expect(failure("mov %r1, 1\nstxdw [%r10+0], %r1\nmov %r0, 0\nexit")?.kind == .memoryViolation)
        #expect(failure("stb [%r10-513], 1\nmov %r0, 0\nexit")?.kind == .memoryViolation)
        #expect(failure("stb [%r10-1], 1\nmov %r0, 0\nexit") == nil)
    }

    @Test func wildPointers() {
        #expect(failure("mov %r1, 0\nldxdw %r0, [%r1+0]\nexit")?.kind == .memoryViolation)
        #expect(failure("lddw %r1, 0xffffffffffffffff\nldxdw %r0, [%r1+0]\nexit")?.kind == .memoryViolation)
        // A pointer whose end wraps around the address space.
        #expect(failure("lddw %r1, 0xfffffffffffffffc\nstxdw [%r1+0], %r1\nmov %r0, 0\nexit")?.kind == .memoryViolation)
        #expect(failure("mov %r1, %r10\nlsh %r1, 1\nlock add [%r1+0], %r1\nmov %r0, 0\nexit")?.kind == .memoryViolation)
    }

    @Test func calleesCannotReachBelowTheirFrame() {
        let error = failure("call local +1\nexit\nstdw [%r10-520], 1\nexit")
        #expect(error?.kind == .memoryViolation && error?.index == 2)
    }

    @Test func misalignedAtomics() {
        let error = failure("mov %r1, 1\nlock add [%r10-12], %r1\nmov %r0, 0\nexit")
        #expect(error?.kind == .memoryViolation)
        #expect(error?.reason.hasPrefix("misaligned atomic access at 0x") == true)
    }

    @Test func unknownHelperAtRunTime() {
        let error = failure("mov %r2, 99\ncall %r2\nexit")
        #expect(error == VMError(.unknownHelper, "unknown helper 99", index: 1, instruction: "call %r2"))
        #expect(failure("mov %r2, -1\ncall %r2\nexit")?.kind == .unknownHelper)
        #expect(failure("mov %r2, 5\ncall %r2\nexit", varying: .r0) == nil)   // ktime_get_ns through callx
    }

    @Test func instructionBudget() throws {
        let loop = "mov %r0, 0\nadd %r0, 1\nja -2"
        let error = failure(loop, options: VMOptions(maxInstructions: 100))
        #expect(error == VMError(.budgetExceeded, "instruction budget of 100 exceeded", index: 2, instruction: "ja -2"))
        // Exactly enough budget: 3 instructions.
        let vm = try TestMachine(program: try TestAssembler.program("mov %r0, 1\nadd %r0, 1\nexit"),
                                 options: VMOptions(maxInstructions: 3))
        #expect(try run(vm) == 2)
        #expect(vm.executedInstructions == 3)
        let tight = try TestMachine(program: try TestAssembler.program("mov %r0, 1\nadd %r0, 1\nexit"),
                                    options: VMOptions(maxInstructions: 2))
        #expect(throws: VMError(.budgetExceeded, "instruction budget of 2 exceeded", index: 2, instruction: "exit")) {
            try run(tight)
        }
    }

    @Test func helperWithABadPointer() {
        let maps = SegmentMaps()
        maps.addMap(fd: 3, MapInfo(kind: .hash, keySize: 4, valueSize: 8, maxEntries: 4))
        let error = failure("lddw %r1, map_fd 3\nmov %r2, 4096\ncall 1\nexit", maps: maps)
        #expect(error == VMError(.helperFault, "map_lookup_elem: key pointer 0x1000 is not readable for 4 bytes",
                                 index: 3, instruction: "call 1"))
        // A key that starts on the stack but runs past its top.
        #expect(failure("lddw %r1, map_fd 3\nmov %r2, %r10\nadd %r2, -2\ncall 1\nexit", maps: maps)?.kind == .helperFault)
        // Not a map at all.
        #expect(failure("mov %r1, 3\nmov %r2, %r10\ncall 1\nexit", maps: maps)?.reason == "map_lookup_elem: 0x3 is not a map")
    }

    @Test func mapHandlesAreNotPointers() {
        let maps = SegmentMaps()
        maps.addMap(fd: 3, MapInfo(kind: .array, keySize: 4, valueSize: 8, maxEntries: 1))
        #expect(failure("lddw %r1, map_fd 3\nldxdw %r0, [%r1+0]\nexit", maps: maps)?.kind == .memoryViolation)
        #expect(try! execute("lddw %r0, map_fd 3\nexit", maps: maps).r0 == MapHandle.value(slot: 0))
    }

    @Test func theVMIsReusableAfterAFault() throws {
        let vm = try TestMachine(program: try TestAssembler.program("ldxb %r0, [%r1+0]\nexit"))
        #expect(throws: VMError.self) { try run(vm) }
        #expect(try run(vm, [7]) == 7)
    }

    /// A deep fault inside a callee leaves the next run starting from the entry frame.
    @Test func aFaultInsideACallDoesNotLeakFrames() throws {
        let vm = try TestMachine(program: try TestAssembler.program(
            "call local +2\nmov %r0, %r10\nexit\nldxb %r0, [%r1+0]\nexit"))
        #expect(throws: VMError.self) { try run(vm) }
        let top = UInt64(UInt(bitPattern: vm.stack.baseAddress)) + UInt64(vm.stack.count)
        #expect(try run(vm, [1]) == top)
    }
}

@Suite struct RegionTableTests {
    func state(capacity: Int) -> (UnsafeMutablePointer<RunState>, () -> Void) {
        let regions = UnsafeMutablePointer<MemoryRegion>.allocate(capacity: capacity)
        let s = UnsafeMutablePointer<RunState>.allocate(capacity: 1)
        s.initialize(to: RunState(stackLow: 0x1000, stackHigh: 0x1200, inputLow: 0x2000, inputHigh: 0x2004,
                                  regions: regions, regionCount: 0, regionCapacity: capacity, permanentRegionCount: 0,
                                  attention: 0, callDepth: 0, cookie: 0, tailCallCount: 0,
                                  environment: UnsafeMutableRawPointer(bitPattern: 8)!))
        return (s, { regions.deallocate(); s.deallocate() })
    }

    @Test func checksRangesExactly() {
        let (s, free) = state(capacity: 8)
        defer { free() }
        #expect(s.pointee.allows(0x1000, 0x200, write: true))
        #expect(!s.pointee.allows(0x1001, 0x200, write: false))
        #expect(!s.pointee.allows(0xfff, 1, write: false))
        #expect(s.pointee.allows(0x2000, 4, write: true))
        #expect(!s.pointee.allows(0x2001, 4, write: true))
        #expect(!s.pointee.allows(UInt64.max, 2, write: false))
        s.pointee.grant(low: 0x3000, high: 0x3010, writable: false)
        #expect(s.pointee.allows(0x3008, 8, write: false))
        #expect(!s.pointee.allows(0x3008, 8, write: true))
        #expect(!s.pointee.allows(0x3009, 8, write: false))
    }

    @Test func grantsAreDedupedAndAFullTableDropsItsOlderHalf() {
        let (s, free) = state(capacity: 8)
        defer { free() }
        let added = s.pointee.addPermanent(low: 0x9000, high: 0x9008, writable: true)
        #expect(added)
        s.pointee.grant(low: 0x3000, high: 0x3010, writable: true)
        s.pointee.grant(low: 0x3000, high: 0x3010, writable: true)
        #expect(s.pointee.regionCount == 2)
        for i in 1 ... 10 { s.pointee.grant(low: 0x4000 + UInt64(i) * 0x100, high: 0x4010 + UInt64(i) * 0x100, writable: true) }
        #expect(s.pointee.regionCount <= 8)
        #expect(s.pointee.allows(0x9000, 8, write: true))              // permanent survives
        #expect(s.pointee.allows(0x4000 + 10 * 0x100, 16, write: true)) // newest survives
        #expect(!s.pointee.allows(0x3000, 16, write: true))              // oldest dropped
        s.pointee.revoke(low: 0x4000 + 10 * 0x100)
        #expect(!s.pointee.allows(0x4000 + 10 * 0x100, 16, write: true))
    }
}

import TestSupport
import Foundation
import Testing
import BPFModel
@testable import BPFVM

/// Collects `bpf_trace_printk` output.
final class TraceLog: @unchecked Sendable {
    var text = ""
    var options: VMOptions { VMOptions(trace: { [self] in text += $0 }) }
}

@Suite struct ProbeReadTests {
    let input: [UInt8] = Array("hello\0world".utf8)

    @Test(arguments: [Int32(4), 112, 113])
    func copiesReadableMemory(_ helper: Int32) throws {
        let program = "mov %r3, %r1\nmov %r1, %r10\nadd %r1, -8\nmov %r2, 8\ncall \(helper)\njne %r0, 0, +1\nldxdw %r0, [%r10-8]\nexit"
        #expect(try execute(program, memory: input).r0 == UInt64(littleEndianBytes: Array(input[0 ..< 8])))
    }

    @Test(arguments: [Int32(4), 112, 113])
    func anUnreadableSourceZeroesTheDestination(_ helper: Int32) throws {
        let program = "stdw [%r10-8], -1\nmov %r1, %r10\nadd %r1, -8\nmov %r2, 8\nmov %r3, 64\ncall \(helper)\nldxdw %r1, [%r10-8]\nadd %r0, %r1\nexit"
        #expect(try execute(program).r0 == UInt64(bitPattern: -14))   // -EFAULT + 0
    }

    @Test func anUnwritableDestinationIsAFault() {
        let error = failure("mov %r3, %r1\nmov %r1, 64\nmov %r2, 4\ncall 4\nexit", memory: input)
        #expect(error?.kind == .helperFault && error?.reason == "probe_read: destination pointer 0x40 is not writable for 4 bytes")
    }

    @Test(arguments: [Int32(45), 114, 115])
    func stringsStopAtTheirNUL(_ helper: Int32) throws {
        let copy = "mov %r3, %r1\nmov %r1, %r10\nadd %r1, -16\nmov %r2, 16\ncall \(helper)\n"
        #expect(try execute(copy + "exit", memory: input).r0 == 6)                       // "hello" + NUL
        #expect(try execute(copy + "ldxdw %r0, [%r10-16]\nexit", memory: input).r0
            == UInt64(littleEndianBytes: Array("hello\0".utf8) + [0, 0]) & 0xffff_ffff_ffff)
        // A short buffer truncates and still terminates.
        let short = "mov %r3, %r1\nmov %r1, %r10\nadd %r1, -16\nstdw [%r1+0], -1\nmov %r2, 3\ncall \(helper)\nldxw %r0, [%r10-16]\nexit"
        #expect(try execute(short, memory: input).r0 == 0xff00_6568)          // "he\0" then the untouched 0xff
        // A string that runs off the end of readable memory is refused.
        let off = "mov %r3, %r1\nadd %r3, 6\nmov %r1, %r10\nadd %r1, -16\nmov %r2, 16\ncall \(helper)\nexit"
        #expect(try execute(off, memory: input).r0 == UInt64(bitPattern: -14))
    }
}

extension UInt64 {
    init(littleEndianBytes b: [UInt8]) {
        self = b.prefix(8).enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }
}

@Suite struct SystemHelperTests {
    @Test func clocks() throws {
        let t0 = SystemHelpers.nanoseconds(CLOCK_MONOTONIC)
        let ktime = try execute("call 5\nexit", varying: .r0).r0
        #expect(ktime >= t0 && ktime <= SystemHelpers.nanoseconds(CLOCK_MONOTONIC))
        let b0 = SystemHelpers.nanoseconds(CLOCK_BOOTTIME)
        let boot = try execute("call 125\nexit", varying: .r0).r0
        #expect(boot >= b0 && boot <= SystemHelpers.nanoseconds(CLOCK_BOOTTIME))
        #expect(try execute("call 5\nmov %r6, %r0\ncall 5\nsub %r0, %r6\nexit", varying: .r0).r0 < 1 << 63)   // never goes back
    }

    @Test func randomNumbersAre32BitAndVary() throws {
        let vm = try TestMachine(program: try TestAssembler.program("call 7\nexit"))
        let values = try (0 ..< 8).map { _ in try run(vm) }
        #expect(values.allSatisfy { $0 <= UInt64(UInt32.max) })
        #expect(Set(values).count > 1)
    }

    @Test func processorIdentity() throws {
        #expect(try execute("call 8\nexit", varying: .r0).r0 < UInt64(ProcessInfo.processInfo.processorCount))
        let pidTgid = try execute("call 14\nexit").r0
        #expect(pidTgid >> 32 == UInt64(getpid()))
        #expect(pidTgid & 0xffff_ffff != 0)
        #expect(try execute("call 15\nexit").r0 == UInt64(getgid()) << 32 | UInt64(getuid()))
    }

    @Test func currentComm() throws {
        let expected = (try String(contentsOfFile: "/proc/self/comm", encoding: .utf8)).trimmingCharacters(in: .newlines)
        let program = "mov %r1, %r10\nadd %r1, -16\nmov %r2, 16\ncall 16\nexit"
        let vm = try TestMachine(program: try TestAssembler.program(program))
        #expect(try run(vm) == 0)
        let frame = UnsafeRawBufferPointer(start: vm.stack.baseAddress! + vm.stack.count - 16, count: 16)
        #expect(String(decoding: frame.prefix { $0 != 0 }, as: UTF8.self) == expected)
        // Truncated to the buffer, NUL-terminated.
        let short = try TestMachine(program: try TestAssembler.program(program.replacingOccurrences(of: "mov %r2, 16", with: "mov %r2, 3")))
        _ = try run(short)
        let bytes = Array(UnsafeRawBufferPointer(start: short.stack.baseAddress! + short.stack.count - 16, count: 3))
        #expect(bytes == Array(expected.utf8.prefix(2)) + [0])
    }

    @Test func attachCookie() throws {
        let vm = try TestMachine(program: try TestAssembler.program("call 174\nexit"))
        #expect(try run(vm, cookie: 0xabcdef) == 0xabcdef)
        #expect(try run(vm) == 0)
    }
}

@Suite struct TracePrintkTests {
    /// Stores `format` on the stack and calls trace_printk with r3-r5 = `args`.
    func printk(_ format: String, _ args: [Int32] = []) -> String {
        var bytes = Array(format.utf8) + [0]
        while bytes.count % 8 != 0 { bytes.append(0) }
        var program = ""
        for (i, chunk) in stride(from: 0, to: bytes.count, by: 8).enumerated() {
            let word = UInt64(littleEndianBytes: Array(bytes[chunk ..< chunk + 8]))
            program += "lddw %r1, 0x\(String(word, radix: 16))\nstxdw [%r10-\(bytes.count - 8 * i)], %r1\n"
        }
        for (i, a) in args.enumerated() { program += "mov %r\(i + 3), \(a)\n" }
        return program + "mov %r1, %r10\nadd %r1, -\(bytes.count)\nmov %r2, \(format.utf8.count + 1)\ncall 6\nexit"
    }

    @Test func formatsIntegers() throws {
        let log = TraceLog()
        let r0 = try execute(printk("a=%d b=%u c=%x\n", [-5, -1, 255]), options: log.options).r0
        #expect(log.text == "a=-5 b=4294967295 c=ff\n")
        #expect(r0 == 0)
    }

    @Test func formatsLongsCharsAndPercent() throws {
        let log = TraceLog()
        _ = try execute(printk("%ld %lu %llx", [-5, -1, -1]), options: log.options)
        #expect(log.text == "-5 18446744073709551615 ffffffffffffffff")
        let second = TraceLog()
        _ = try execute(printk("%c%c %i%%", [104, 105, 7]), options: second.options)
        #expect(second.text == "hi 7%")
    }

    @Test func formatsStringsAndPointers() throws {
        let log = TraceLog()
        let program = printk("[%s] %p", [0, 0]).replacingOccurrences(of: "mov %r3, 0\nmov %r4, 0\n", with: "mov %r3, %r10\nadd %r3, -32\nstdw [%r3+0], 0x6b6f\nmov %r4, 4096\n")
        _ = try execute(program, options: log.options)
        #expect(log.text == "[ok] 0x1000")
        let nulls = TraceLog()
        _ = try execute(printk("%s %p", [0, 0]), options: nulls.options)
        #expect(nulls.text == "(null) (nil)")
        // A %s pointer outside readable memory refuses the whole format.
        let bad = TraceLog()
        #expect(try execute(printk("%s", [64]), options: bad.options).r0 == UInt64(bitPattern: -22))
        #expect(bad.text.isEmpty)
    }

    @Test func widthsAndFlags() throws {
        let log = TraceLog()
        _ = try execute(printk("[%5d][%-4x][%08ld]", [-42, 171, -7]), options: log.options)
        #expect(log.text == "[  -42][ab  ][-0000007]")
        let strings = TraceLog()
        _ = try execute(printk("[%3c][%-3c]", [65, 66]), options: strings.options)
        #expect(strings.text == "[  A][B  ]")
    }

    @Test func refusesWhatItCannotFormat() throws {
        let log = TraceLog()
        #expect(try execute(printk("%d %d %d %d", [1, 2, 3]), options: log.options).r0 == UInt64(bitPattern: -22))
        #expect(try execute(printk("%f", [1]), options: log.options).r0 == UInt64(bitPattern: -22))
        #expect(try execute(printk("%", []), options: log.options).r0 == UInt64(bitPattern: -22))
        #expect(log.text.isEmpty)
        #expect(failure("mov %r1, 64\nmov %r2, 4\ncall 6\nexit")?.kind == .helperFault)
    }
}

@Suite struct RingbufTests {
    let maps: SegmentMaps = {
        let maps = SegmentMaps()
        maps.addMap(fd: 3, MapInfo(kind: .ringbuf, keySize: 0, valueSize: 0, maxEntries: 64))
        return maps
    }()

    @Test func outputCopiesARecord() throws {
        let program = "stdw [%r10-8], 0x1234\nlddw %r1, map_fd 3\nmov %r2, %r10\nadd %r2, -8\nmov %r3, 8\nmov %r4, 0\ncall 130\nexit"
        #expect(try execute(program, maps: maps).r0 == 0)
        #expect(maps.records(fd: 3) == [le64(0x1234)])
        // BPF_RB_AVAIL_DATA counts the record's 8-byte header too, as Linux's producer - consumer does.
        #expect(try execute("lddw %r1, map_fd 3\nmov %r2, 0\ncall 134\nexit", maps: maps).r0 == 16)
        #expect(try execute("lddw %r1, map_fd 3\nmov %r2, 1\ncall 134\nexit", maps: maps).r0 == 64)
    }

    let reserve = "lddw %r1, map_fd 3\nmov %r2, 16\nmov %r3, 0\ncall 131\njeq %r0, 0, +6\nmov %r6, %r0\nstdw [%r6+8], 7\nmov %r1, %r6\nmov %r2, 0\n"

    @Test func reserveThenSubmit() throws {
        #expect(try execute(reserve + "call 132\nmov %r0, 1\nexit", maps: maps).r0 == 1)
        #expect(maps.records(fd: 3) == [[UInt8](repeating: 0, count: 8) + le64(7)])
    }

    @Test func reserveThenDiscard() throws {
        #expect(try execute(reserve + "call 133\nmov %r0, 1\nexit", maps: maps).r0 == 1)
        #expect(maps.records(fd: 3).isEmpty)
    }

    @Test func aSubmittedRecordIsNoLongerWritable() {
        let error = failure(reserve + "call 132\nstdw [%r6+0], 1\nmov %r0, 1\nexit", maps: maps, varying: .errorAddresses)
        #expect(error?.kind == .memoryViolation)
    }

    @Test func onlyReservedRecordsMayBeSubmitted() {
        let error = failure("mov %r1, %r10\nadd %r1, -8\nmov %r2, 0\ncall 132\nexit", maps: maps)
        #expect(error?.kind == .helperFault && error?.reason.hasSuffix("is not a reserved ring-buffer record") == true)
    }

    @Test func recordsLeftReservedAreDiscardedAtTheEndOfTheRun() throws {
        #expect(try execute(reserve + "mov %r0, 1\nmov %r0, 1\nexit", maps: maps).r0 == 1)
        #expect(maps.reservations.isEmpty)
        #expect(maps.records(fd: 3).isEmpty)
    }

    @Test func reservationsBeyondCapacityFail() throws {
        #expect(try execute("lddw %r1, map_fd 3\nmov %r2, 100\nmov %r3, 0\ncall 131\nexit", maps: maps).r0 == 0)
    }
}

@Suite struct TailCallTests {
    let maps: SegmentMaps = {
        let maps = SegmentMaps()
        maps.addMap(fd: 3, MapInfo(kind: .progArray, keySize: 4, valueSize: 4, maxEntries: 4))
        maps.addMap(fd: 4, MapInfo(kind: .array, keySize: 4, valueSize: 8, maxEntries: 1))
        return maps
    }()
    let tailCall = "mov %r6, %r1\nlddw %r2, map_fd 3\nmov %r3, 0\ncall 12\n"

    @Test func jumpsToTheTargetWithR1Unchanged() throws {
        maps.setProgram(try TestAssembler.program("ldxb %r0, [%r1+0]\nadd %r0, 40\nexit"), at: 0, in: 3)
        #expect(try execute(tailCall + "mov %r0, 1\nexit", memory: [2], maps: maps).r0 == 42)
    }

    @Test func aMissingEntryContinuesWithAnError() throws {
        #expect(try execute(tailCall + "exit", maps: maps).r0 == UInt64(bitPattern: -2))
        #expect(try execute("lddw %r2, map_fd 3\nmov %r3, 9\ncall 12\nexit", maps: maps).r0 == UInt64(bitPattern: -2))
        #expect(try execute("lddw %r2, map_fd 4\nmov %r3, 0\ncall 12\nexit", maps: maps).r0 == UInt64(bitPattern: -22))
    }

    /// A program that counts its own runs in a global and tail-calls itself: 1 + 33 runs.
    @Test func chainsStopAfter33TailCalls() throws {
        let selfCalling = try TestAssembler.program("""
            lddw %r7, map_value 4+0
            mov %r8, 1
            lock add [%r7+0], %r8
            lddw %r2, map_fd 3
            mov %r3, 0
            call 12
            ldxdw %r0, [%r7+0]
            exit
            """)
        maps.setProgram(selfCalling, at: 0, in: 3)
        let vm = try TestMachine(program: selfCalling, maps: maps)
        #expect(try run(vm) == 34)
    }

    @Test func aRejectedTargetEndsTheRun() throws {
        maps.setProgram(try TestAssembler.program("mov %r10, 0\nexit"), at: 0, in: 3)
        let error = failure(tailCall + "exit", maps: maps)
        #expect(error?.kind == .rejected)
        #expect(error?.description == "instruction 4 (call 12): tail-called program rejected: instruction 0 (mov %r10, 0): r10 is read-only")
    }

    @Test func notFromInsideALocalCall() throws {
        maps.setProgram(try TestAssembler.program("mov %r0, 42\nexit"), at: 0, in: 3)
        #expect(try execute("call local +1\nexit\n" + tailCall + "exit", maps: maps).r0 == UInt64(bitPattern: -22))
    }
}

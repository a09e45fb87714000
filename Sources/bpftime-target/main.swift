import BPFAgent
import BPFLogging
import BPFSegment
// `@preconcurrency`: C's `stdout`/`stderr` are global vars Glibc does not mark for concurrency;
// this program uses them from its main thread only.
@preconcurrency import Glibc

// An example target process, like bpftime's example/minimal/victim: calls a function in a loop
// and fires the function's entry and return hooks (uprobe and uretprobe at its file offset), and
// the entry hook of a two-argument function. Programs get the call's registers as an x86-64
// struct pt_regs (the argument in di, the result in ax). A program on a uprobe_override event at
// the work function's entry that calls bpf_override_return replaces the call: the function does
// not run and the loop takes the program's value as its result.
//
//   bpftime-target [--shm NAME] [--iterations N] [--interval-ms M] [--report-every K] [--engine NAME] [--print-hook]
// The engine defaults to $BPFTIME_AGENT_ENGINE, else the JIT (x86-64) or the interpreter.

/// The function the target calls in a loop and hooks: a stand-in for real work, exported
/// under a C name so that its hook can also be named by symbol.
@_cdecl("bpftime_target_work")
@inline(never)
public func bpftimeTargetWork(_ n: Int64) -> Int64 {
    var x = UInt64(bitPattern: n) &* 0x9E37_79B9_7F4A_7C15
    x ^= x >> 29
    return Int64(bitPattern: x)
}

/// A second hooked function, taking two arguments (for programs that read PT_REGS_PARM1/2).
@_cdecl("bpftime_target_add")
@inline(never)
public func bpftimeTargetAdd(_ a: Int64, _ b: Int64) -> Int64 { a &+ b }

struct Arguments {
    var shm = SegmentConfiguration.environmentName
    var iterations = 0 // 0: until killed
    var intervalMs = 0.0
    var reportEvery = 1000
    var printHook = false
    var engine: AgentOptions.Engine?

    init(_ args: [String]) throws {
        var rest = args[...]
        func value(_ option: String) throws -> String {
            guard let v = rest.popFirst() else { throw UsageError("\(option) needs a value") }
            return v
        }
        func number<T: LosslessStringConvertible>(_ option: String) throws -> T {
            let text = try value(option)
            guard let n = T(text) else { throw UsageError("\(option): \"\(text)\" is not a number") }
            return n
        }
        while let arg = rest.popFirst() {
            switch arg {
            case "--shm": shm = try value(arg)
            case "--iterations": iterations = try number(arg)
            case "--interval-ms": intervalMs = try number(arg)
            case "--report-every": reportEvery = try number(arg)
            case "--print-hook": printHook = true
            case "--engine":
                let name = try value(arg)
                guard let e = AgentOptions.Engine(rawValue: name) else { throw UsageError("--engine: \"\(name)\" is not one of \(AgentOptions.Engine.allCases.map(\.rawValue))") }
                engine = e
            case "-h", "--help": throw UsageError("")
            default: throw UsageError("unknown argument \(arg)")
            }
        }
        guard iterations >= 0, intervalMs >= 0, reportEvery >= 1 else { throw UsageError("numbers must be positive") }
    }
}

struct UsageError: Error { let text: String; init(_ text: String) { self.text = text } }

setvbuf(stdout, nil, _IOLBF, 0)
let arguments: Arguments
do {
    arguments = try Arguments(Array(CommandLine.arguments.dropFirst()))
} catch let error as UsageError {
    if !error.text.isEmpty { fputs("bpftime-target: \(error.text)\n", stderr) }
    fputs("usage: bpftime-target [--shm NAME] [--iterations N] [--interval-ms M] [--report-every K] [--engine NAME] [--print-hook]\n", stderr)
    exit(error.text.isEmpty ? 0 : 2)
}

let work: @convention(c) (Int64) -> Int64 = bpftimeTargetWork
let add: @convention(c) (Int64, Int64) -> Int64 = bpftimeTargetAdd
let workAddress = unsafeBitCast(work, to: UnsafeRawPointer.self), addAddress = unsafeBitCast(add, to: UnsafeRawPointer.self)
let entryHook: Hook, returnHook: Hook, addHook: Hook
do {
    entryHook = try Hook.function(at: workAddress)
    returnHook = try Hook.function(at: workAddress, returning: true)
    addHook = try Hook.function(at: addAddress)
} catch {
    fputs("bpftime-target: cannot locate its own function: \(error)\n", stderr)
    exit(1)
}
if arguments.printHook {
    // The module as a perf event's _module_name names it: this executable's file name.
    guard case .uprobe(let module, let offset) = entryHook else { exit(1) }
    print("\(module.split(separator: "/").last ?? ""):0x\(String(offset, radix: 16))")
    exit(0)
}

BPFLog.bootstrap()
let agent: Agent
do {
    var options = try AgentOptions.fromEnvironment()
    if let engine = arguments.engine { options.engine = engine }
    agent = try Agent.open(segmentName: arguments.shm, options: options)
} catch {
    fputs("bpftime-target: \(error)\n", stderr)
    exit(1)
}
let entry = agent.resolve(entryHook), returned = agent.resolve(returnHook), added = agent.resolve(addHook)
/// The registers of a call from this loop: arguments, result, the function's address, and
/// (standing in for the stack pointer at the call) the address of a local of this frame.
func call(_ function: UnsafeRawPointer, _ a: Int64, _ b: Int64 = 0, result: Int64 = 0) -> HookedCall {
    var local = 0
    let sp = withUnsafeMutablePointer(to: &local) { UInt64(UInt(bitPattern: $0)) }
    return HookedCall(di: UInt64(bitPattern: a), si: UInt64(bitPattern: b), ax: UInt64(bitPattern: result),
                      ip: UInt64(UInt(bitPattern: function)), sp: sp)
}
let pid = getpid()
print("bpftime-target pid \(pid): segment \(arguments.shm), hooks \(entryHook), \(returnHook) and \(addHook)")

var calls = 0, programRuns = 0, sum: Int64 = 0
let pause = timespec(tv_sec: Int(arguments.intervalMs / 1000), tv_nsec: Int(arguments.intervalMs.truncatingRemainder(dividingBy: 1000) * 1_000_000))
while arguments.iterations == 0 || calls < arguments.iterations {
    calls += 1
    let argument = Int64(calls)
    var override: UInt64?
    programRuns += max(0, agent.fire(entry, call: call(workAddress, argument), returnOverride: &override))
    let result = override.map { Int64(bitPattern: $0) } ?? work(argument)
    sum &+= result
    programRuns += max(0, agent.fire(returned, call: call(workAddress, argument, result: result)))
    programRuns += max(0, agent.fire(added, call: call(addAddress, argument, 2 * argument)))
    sum &+= add(argument, 2 * argument)
    if calls % arguments.reportEvery == 0 {
        print("bpftime-target pid \(pid): calls=\(calls) program_runs=\(programRuns)\(agent.isDetached ? " (segment removed)" : "")")
    }
    if arguments.intervalMs > 0 {
        var request = pause, remaining = timespec()
        while nanosleep(&request, &remaining) != 0, errno == EINTR { request = remaining }
    }
}
print("bpftime-target pid \(pid): done, calls=\(calls) program_runs=\(programRuns) checksum=\(sum & 0xFFFF)")

import TestSupport
import BPFModel
import Foundation
import Testing
@testable import BPFVM

/// A program on both engines: the interpreter, the reference whose results tests check, and (on
/// x86-64) the JIT compiled from the same `VirtualMachine`, so both see the same stack, input and
/// map addresses (pointers may flow into r0 and memory). The interpreter's members (`stack`,
/// `registers`, `executedInstructions`...) read through.
@dynamicMemberLookup
final class TestMachine {
    let interpreter: VirtualMachine
    let jit: JITProgram?
    /// What may differ between the engines' runs, and so is not compared (everything else is).
    struct Varying: OptionSet {
        let rawValue: Int
        /// r0 comes from a clock or the current CPU.
        static let r0 = Varying(rawValue: 1)
        /// The error's addresses: a fault in a ring-buffer record, which each run reserves afresh.
        static let errorAddresses = Varying(rawValue: 2)
    }
    let varying: Varying
    private let trace: TraceTap

    /// Validates `program` (throwing the validator's error) and compiles it with `compile` (JIT by
    /// default, or AOT); a program the interpreter accepts and the JIT refuses is a test failure.
    init(program: Program, maps: SegmentMaps? = nil, options: VMOptions = VMOptions(), varying: Varying = [],
         compile: (VirtualMachine) throws -> JITProgram = { try JITProgram(machine: $0) },
         sourceLocation: SourceLocation = #_sourceLocation) throws {
        var options = options
        let trace = TraceTap(destination: options.trace)
        options.trace = trace.receive
        self.trace = trace
        self.varying = varying
        interpreter = try VirtualMachine(program: program, maps: maps, options: options)
        guard JITProgram.isSupported else {
            jit = nil
            return
        }
        do {
            jit = try compile(interpreter)
        } catch {
            Issue.record("the interpreter accepts the program, the JIT refuses it: \(error)", sourceLocation: sourceLocation)
            throw error
        }
    }

    subscript<T>(dynamicMember path: KeyPath<VirtualMachine, T>) -> T { interpreter[keyPath: path] }

    /// Runs on the JIT, then on the interpreter from the same state: stack, input (a fresh copy of
    /// `memory` at the same address), map contents and random-number state. The interpreter runs
    /// last, so what it leaves (maps, stack, registers) is what the test sees afterwards, and only
    /// its `bpf_trace_printk` text reaches the test's trace.
    func outcomes(_ memory: [UInt8], cookie: UInt64 = 0) -> (interpreter: RunOutcome, jit: RunOutcome?) {
        let vm = interpreter
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(memory.count, 1), alignment: 16)
        defer { storage.deallocate() }
        let input = memory.isEmpty ? UnsafeMutableRawBufferPointer(start: nil, count: 0)
            : UnsafeMutableRawBufferPointer(rebasing: storage[0 ..< memory.count])
        let maps = vm.environment.maps as? SegmentMaps
        let stack = Array(vm.stack), random = vm.environment.randomState, saved = maps?.checkpoint()
        func outcome(_ body: (UnsafeMutableRawBufferPointer) throws -> UInt64) -> RunOutcome {
            vm.stack.copyBytes(from: stack)
            vm.environment.randomState = random
            if let saved { maps?.restore(saved) }
            input.copyBytes(from: memory)
            trace.text = ""
            let result = Result { try body(input) }.mapError { $0 as? VMError ?? VMError(.malformed, "unexpected \($0)") }
            return RunOutcome(result: result, memory: Array(input), stack: Array(vm.stack),
                              executed: vm.options.maxInstructions == nil ? nil : vm.executedInstructions,
                              maps: maps.map { MapState(records: $0.contents(), bytes: $0.checkpoint()) }, trace: trace.text,
                              returnOverride: vm.returnOverride)
        }
        trace.forwarding = false
        let compiled = jit.map { jit in outcome { try jit.run(input: $0, cookie: cookie) } }
        trace.forwarding = true
        return (outcome { try vm.run(input: $0, cookie: cookie) }, compiled)
    }

    /// Runs on both engines and fails the test where the JIT's outcome differs from the
    /// interpreter's in anything: r0, the error (full text), memory, stack, executed count, maps,
    /// trace. Returns the interpreter's r0 and memory, or throws its error.
    @discardableResult
    func run(_ memory: [UInt8] = [], cookie: UInt64 = 0, sourceLocation: SourceLocation = #_sourceLocation)
        throws -> (r0: UInt64, memory: [UInt8]) {
        let runs = outcomes(memory, cookie: cookie)
        if var jit = runs.jit {
            var interpreter = runs.interpreter
            if varying.contains(.r0), jit.r0 != nil, let r0 = interpreter.r0 { jit.result = .success(r0) }
            if varying.contains(.errorAddresses) {
                jit.result = jit.result.mapError(\.withoutAddresses)
                interpreter.result = interpreter.result.mapError(\.withoutAddresses)
            }
            #expect(jit == interpreter, "JIT \(jit)\ninterpreter \(interpreter)", sourceLocation: sourceLocation)
        }
        return (try runs.interpreter.result.get(), runs.interpreter.memory)
    }
}

/// What a run leaves behind: r0 or the error, the input memory and the whole stack afterwards,
/// the executed-instruction count when a budget makes the JIT count, the maps' contents and the
/// `bpf_trace_printk` text, and the return value it asked the hooked function for.
struct RunOutcome: Equatable, CustomStringConvertible {
    var result: Result<UInt64, VMError>
    var memory: [UInt8]
    var stack: [UInt8]
    var executed: UInt64?
    var maps: MapState?
    var trace: String
    var returnOverride: UInt64?

    var r0: UInt64? { try? result.get() }
    var error: VMError? {
        guard case .failure(let error) = result else { return nil }
        return error
    }
    var kind: VMError.Kind? { error?.kind }

    var description: String {
        let result = r0.map { "r0 = 0x\(String($0, radix: 16))" } ?? "error: \(error.map { "\($0)" } ?? "?")"
        return "\(result), executed \(executed.map(String.init) ?? "-"), memory \(memory), stack hash \(stack.hashValue), "
            + "maps \(maps.map { "\($0)" } ?? "-"), trace \(trace.debugDescription), return override \(returnOverride.map { "\($0)" } ?? "-")"
    }
}

extension VMError {
    /// The same error with every hex number in its reason as `0x?`.
    var withoutAddresses: VMError {
        VMError(kind, reason.replacingOccurrences(of: #"0x[0-9a-f]+"#, with: "0x?", options: .regularExpression),
                index: index, instruction: instruction)
    }
}

/// Where a `TestMachine`'s `bpf_trace_printk` text goes: kept for the comparison, and passed on
/// (to the test's trace, or stdout as the helper does without one) only while `forwarding`.
final class TraceTap {
    let destination: ((String) -> Void)?
    var text = ""
    var forwarding = true

    init(destination: ((String) -> Void)?) { self.destination = destination }

    func receive(_ line: String) {
        text += line
        guard forwarding else { return }
        if let destination { destination(line) } else { print(line, terminator: "") }   // as the helper does
    }
}

/// What programs can change in their maps: the handlers with their contents (readable in a
/// failure), and every byte of the segment (ring buffers, LRU order, free lists).
struct MapState: Equatable, CustomStringConvertible {
    var records: [HandlerRecord]
    var bytes: [UInt8]

    var description: String { "\(records), segment hash \(bytes.hashValue)" }
}

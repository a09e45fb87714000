// JIT benchmark driver for Scripts/bench-jit.sh:
//   BPFJITBench <bench.jsonl> <bench_meta.json> <memdir> [repeats] [native.so]
// Runs each benchmark program `repeats` times on the JIT, on AOT code (made, serialized and loaded
// back) and on the interpreter (medians), checks results, writes each input to <memdir>/<name>.mem
// for the native reference, and prints:
//   program <name> <jit ns/insn> <interpreter ns/insn> <executed insns> <jit compile µs> <code bytes> <aot ns/insn>
//           <jit cpu ns/insn> <interpreter cpu ns/insn> <aot cpu ns/insn>
// (wall-clock, then this thread's CPU time: on a machine with more runnable processes than cores the
// wall clock also counts the time spent waiting for a core).
//   paired <name> <JIT/native> ...   (with native.so: CPU-time ratios of JIT runs each paired with a
//           native run of the same work right after it, in this process)
//   paired-interpreter <name> <interpreter/native> ...   (the same for the interpreter)
//   compile <instructions> <µs per 1,000 instructions>   (a large generated program, best of 5)
//   overhead <jit ns/run> <interpreter ns/run>          (2-instruction program, 1,000,000 runs)
import BPFVM
import Foundation

func now(_ clock: clockid_t = CLOCK_MONOTONIC) -> UInt64 {
    var ts = timespec()
    clock_gettime(clock, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func median<T: Comparable>(_ xs: [T]) -> T { xs.sorted()[xs.count / 2] }

func hexBytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var it = hex.makeIterator()
    while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16) ?? 0) }
    return out
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("BPFJITBench: \(message)\n".utf8))
    exit(1)
}

func microseconds(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12
}

let args = CommandLine.arguments
guard args.count >= 4 else { fail("usage: BPFJITBench <bench.jsonl> <bench_meta.json> <memdir> [repeats]") }
let repeats = args.count > 4 ? max(1, Int(args[4]) ?? 5) : 5
let native = args.count > 5 ? NativeReference(library: args[5]) : nil
let meta = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: args[2])))) as? [String: Any] ?? [:]
let lines = (try? String(contentsOfFile: args[1], encoding: .utf8))?.split(separator: "\n") ?? []
guard !lines.isEmpty else { fail("no programs in \(args[1])") }

/// Median wall-clock and CPU ns of `repeats` runs of `run` on fresh copies of `memory`, checking r0.
func time(_ name: String, _ memory: [UInt8], expected: UInt64?, _ run: (UnsafeMutableRawBufferPointer) throws -> UInt64) -> (wall: UInt64, cpu: UInt64) {
    var times: [UInt64] = [], cpuTimes: [UInt64] = []
    for _ in 0 ..< repeats {
        var copy = memory
        do {
            let r0 = try copy.withUnsafeMutableBytes { buffer in
                let start = now(), cpuStart = now(CLOCK_THREAD_CPUTIME_ID)
                defer {
                    cpuTimes.append(now(CLOCK_THREAD_CPUTIME_ID) - cpuStart)
                    times.append(now() - start)
                }
                return try run(buffer)
            }
            if let expected, r0 != expected { fail("\(name): r0 0x\(String(r0, radix: 16)) != 0x\(String(expected, radix: 16))") }
        } catch {
            fail("\(name): \(error)")
        }
    }
    return (median(times), median(cpuTimes))
}

for line in lines {
    guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
          let file = obj["name"] as? String, let hex = obj["insns_hex"] as? String,
          let memHex = obj["mem_hex"] as? String else { fail("bad line in \(args[1])") }
    let name = file.replacingOccurrences(of: ".data", with: "")
    let expected = (obj["result"] as? NSNumber)?.uint64Value
    guard let executed = ((meta[name] as? [String: Any])?["executed_insns"] as? NSNumber)?.uint64Value, executed > 0 else {
        fail("\(name): no executed_insns in \(args[2])")
    }
    let memory = hexBytes(memHex)
    guard FileManager.default.createFile(atPath: "\(args[3])/\(name).mem", contents: Data(memory)) else {
        fail("cannot write \(args[3])/\(name).mem")
    }
    do {
        let program = try Program(bytecode: hexBytes(hex))
        let jit = try JITProgram(program: program)
        let image = try AOTImage(serialized: AOTImage(machine: VirtualMachine(program: program)).serialized)
        let aot = try JITProgram(machine: VirtualMachine(program: program), image: image)
        let vm = try VirtualMachine(program: program)
        let jitNs = time("\(name) (JIT)", memory, expected: expected) { try jit.run(input: $0) }
        let aotNs = time("\(name) (AOT)", memory, expected: expected) { try aot.run(input: $0) }
        let vmNs = time("\(name) (interpreter)", memory, expected: expected) { try vm.run(input: $0) }
        let perInsn = { (ns: UInt64) in Double(ns) / Double(executed) }
        if let native, let work = NativeReference.work[name] {
            guard let count = ((meta[name] as? [String: Any])?["params"] as? [String: Any])?[work.parameter] as? Int else {
                fail("\(name): no \(work.parameter) in \(args[2])")
            }
            let file = "\(args[3])/\(name).mem"
            let jitRatios = try native.pairedRatios(work.command, count, memoryFile: file, memory: memory, pairs: 15) { try jit.run(input: $0) }
            let vmRatios = try native.pairedRatios(work.command, count, memoryFile: file, memory: memory, pairs: 3) { try vm.run(input: $0) }
            print("paired \(name) " + jitRatios.map { String(format: "%.4f", $0) }.joined(separator: " "))
            print("paired-interpreter \(name) " + vmRatios.map { String(format: "%.4f", $0) }.joined(separator: " "))
        }
        print(String(format: "program %@ %.4f %.4f %llu %.1f %d %.4f %.4f %.4f %.4f", name, perInsn(jitNs.wall),
                     perInsn(vmNs.wall), executed, microseconds(jit.compileTime), jit.codeSize, perInsn(aotNs.wall),
                     perInsn(jitNs.cpu), perInsn(vmNs.cpu), perInsn(aotNs.cpu)))
    } catch {
        fail("\(name): \(error)")
    }
}

// Compile time on a large program: a repeated block of arithmetic, stack and input accesses,
// branches and a division, as compilers emit them.
do {
    let block: [Instruction] = [
        Instruction(opcode: 0xbf, dst: 3, src: 1),              // mov r3, r1
        Instruction(opcode: 0x07, dst: 3, imm: 8),              // add r3, 8
        Instruction(opcode: 0x79, dst: 4, src: 1, offset: 0),   // ldxdw r4, [r1]
        Instruction(opcode: 0x2f, dst: 4, src: 0),              // mul r4, r0
        Instruction(opcode: 0x7b, dst: 10, src: 4, offset: -8), // stxdw [r10-8], r4
        Instruction(opcode: 0x79, dst: 5, src: 10, offset: -8), // ldxdw r5, [r10-8]
        Instruction(opcode: 0x6f, dst: 5, src: 3),              // lsh r5, r3
        Instruction(opcode: 0x3f, dst: 5, src: 4),              // div r5, r4
        Instruction(opcode: 0x25, dst: 5, offset: 1, imm: 100), // jgt r5, 100, +1
        Instruction(opcode: 0x0f, dst: 0, src: 5),              // add r0, r5
    ]
    var instructions = [Instruction(opcode: 0xb7, dst: 0, imm: 1)]
    for _ in 0 ..< 10_000 { instructions += block }
    instructions.append(Instruction(opcode: 0x95))
    let program = Program(instructions: instructions)
    // Best of five compiles (of one validated program): the cost without other processes' noise.
    let vm = try VirtualMachine(program: program)
    var best = Double.infinity
    for _ in 0 ..< 5 { best = min(best, microseconds(try JITProgram(machine: vm).compileTime)) }
    print(String(format: "compile %d %.1f", instructions.count, best / Double(instructions.count) * 1000))
} catch {
    fail("compile: \(error)")
}

/// Nanoseconds per call of `run` on a 16-byte input, over a million calls. (At file scope, not
/// nested in the top-level code, whose closures are the main actor's and may not take `run`.)
func nanosecondsPerRun(_ run: (UnsafeMutableRawBufferPointer) throws -> UInt64) throws -> Double {
    var input = [UInt8](repeating: 0, count: 16)
    let runs = 1_000_000
    return try input.withUnsafeMutableBytes { buffer in
        var sink: UInt64 = 0
        let start = now()
        for _ in 0 ..< runs { sink &+= try run(buffer) }
        if sink != 0 { fail("overhead program returned \(sink)") }
        return Double(now() - start) / Double(runs)
    }
}

// Run overhead: `mov r0, 0; exit`, one million runs each.
do {
    let program = Program(instructions: [Instruction(opcode: 0xb7), Instruction(opcode: 0x95)])
    let jit = try JITProgram(program: program)
    let vm = try VirtualMachine(program: program)
    let jitNs = try nanosecondsPerRun { try jit.run(input: $0) }
    let vmNs = try nanosecondsPerRun { try vm.run(input: $0) }
    print(String(format: "overhead %.2f %.2f", jitNs, vmNs))
} catch {
    fail("overhead: \(error)")
}

// Interpreter benchmark driver for Scripts/bench-vm.sh:
//   BPFVMBench <bench.jsonl> <bench_meta.json> <memdir> [repeats] [all|programs|micro]
// Runs each benchmark program `repeats` times (median), checks its result and instruction count,
// writes its input to <memdir>/<name>.mem for the native reference, and prints one line per figure:
//   program <name> <ns/insn> <executed insns>
//   overhead <ns/run>           (2-instruction program, 1,000,000 runs)
//   lookup <ns/call> <ns/iteration>   (helper 1 on a hash map of a private segment)
import BPFModel
import BPFRuntime
import BPFSegment
import BPFVM
import Foundation

func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func median(_ xs: [UInt64]) -> UInt64 { xs.sorted()[xs.count / 2] }

func hexBytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var it = hex.makeIterator()
    while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
    return out
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("BPFVMBench: \(message)\n".utf8))
    exit(1)
}

let args = CommandLine.arguments
guard args.count >= 4 else { fail("usage: BPFVMBench <bench.jsonl> <bench_meta.json> <memdir> [repeats]") }
let repeats = args.count > 4 ? Int(args[4]) ?? 5 : 5
let what = args.count > 5 ? args[5] : "all"
let meta = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: args[2])))) as? [String: Any] ?? [:]
let lines = (try? String(contentsOfFile: args[1], encoding: .utf8))?.split(separator: "\n") ?? []
guard !lines.isEmpty else { fail("no programs in \(args[1])") }

for line in lines where what != "micro" {
    guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
          let file = obj["name"] as? String, let hex = obj["insns_hex"] as? String,
          let memHex = obj["mem_hex"] as? String else { fail("bad line in \(args[1])") }
    let name = file.replacingOccurrences(of: ".data", with: "")
    let expected = (obj["result"] as? NSNumber)?.uint64Value
    let executed = ((meta[name] as? [String: Any])?["executed_insns"] as? NSNumber)?.uint64Value ?? 0
    let memory = hexBytes(memHex)
    guard FileManager.default.createFile(atPath: "\(args[3])/\(name).mem", contents: Data(memory)) else { fail("cannot write \(args[3])/\(name).mem") }
    do {
        let vm = try VirtualMachine(program: try Program(bytecode: hexBytes(hex)))
        var times: [UInt64] = []
        for _ in 0 ..< repeats {
            var copy = memory
            let start = now()
            let r0 = try copy.withUnsafeMutableBytes { try vm.run(input: $0) }
            times.append(now() - start)
            if let expected, r0 != expected { fail("\(name): r0 0x\(String(r0, radix: 16)) != 0x\(String(expected, radix: 16))") }
            if executed != 0 && vm.executedInstructions != executed { fail("\(name): executed \(vm.executedInstructions) != \(executed)") }
        }
        print(String(format: "program %@ %.3f %llu", name, Double(median(times)) / Double(vm.executedInstructions), vm.executedInstructions))
    } catch {
        fail("\(name): \(error)")
    }
}

if what == "programs" { exit(0) }

// Run overhead: `mov r0, 0; exit`, one million runs on one reused VM.
do {
    let vm = try VirtualMachine(program: Program(bytecode: hexBytes("b7000000000000009500000000000000")))
    var input = [UInt8](repeating: 0, count: 16)
    let runs = 1_000_000
    var times: [UInt64] = []
    try input.withUnsafeMutableBytes { buffer in
        for _ in 0 ..< repeats {
            var sink: UInt64 = 0
            let start = now()
            for _ in 0 ..< runs { sink &+= try vm.run(input: buffer) }
            times.append(now() - start)
            if sink != 0 { fail("overhead program returned \(sink)") }
        }
    }
    print(String(format: "overhead %.2f", Double(median(times)) / Double(runs)))
} catch {
    fail("overhead: \(error)")
}

// Map lookup: a loop calling helper 1 on a hash map, against the same loop without the call.
do {
    // The maps of a program run without a runtime: a private segment's, as the agent's are a shared one's.
    let segment = try Segment.createPrivate(SegmentConfiguration(name: "bench", sizeBytes: 2 << 20, maxHandlers: 16))
    try segment.apply([HandlerRecord(fd: 3, handler: .map(MapHandler(name: "m", attributes: MapAttributes(mapType: 1, keySize: 4, valueSize: 8, maxEntries: 16))))])
    try segment.map(at: 3).update(key: [1, 0, 0, 0], value: [42, 0, 0, 0, 0, 0, 0, 0])
    let maps = SegmentMapBackend(segment: segment)
    let iterations: Int32 = 1_000_000
    // stw [r10-4], 1; mov r6, N; loop: lddw r1, map_fd 3; mov r2, r10; add r2, -4; call 1 | mov r0, 0;
    // add r6, -1; jne r6, 0, -7; exit
    func program(withCall: Bool) throws -> Program {
        let call = withCall ? Instruction(opcode: 0x85, imm: 1) : Instruction(opcode: 0xb7)
        return Program(instructions: [
            Instruction(opcode: 0x62, dst: 10, offset: -4, imm: 1),
            Instruction(opcode: 0xb7, dst: 6, imm: iterations),
            Instruction(opcode: 0x18, dst: 1, src: 1, imm: 3), Instruction(opcode: 0),
            Instruction(opcode: 0xbf, dst: 2, src: 10),
            Instruction(opcode: 0x07, dst: 2, imm: -4),
            call,
            Instruction(opcode: 0x07, dst: 6, imm: -1),
            Instruction(opcode: 0x55, dst: 6, offset: -7),
            Instruction(opcode: 0x95),
        ])
    }
    var perIteration: [Double] = []
    for withCall in [false, true] {
        let vm = try VirtualMachine(program: try program(withCall: withCall), maps: maps)
        var times: [UInt64] = []
        for _ in 0 ..< repeats {
            let start = now()
            let r0 = try vm.run(input: UnsafeMutableRawBufferPointer(start: nil, count: 0))
            times.append(now() - start)
            if withCall && r0 == 0 { fail("lookup missed") }
        }
        perIteration.append(Double(median(times)) / Double(iterations))
    }
    print(String(format: "lookup %.2f %.2f", perIteration[1] - perIteration[0], perIteration[1]))
} catch {
    fail("lookup: \(error)")
}

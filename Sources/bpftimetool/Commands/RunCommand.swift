import ArgumentParser
import BPFReports
import BPFRuntime
import BPFVM
import Foundation

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a program of the segment on the bytes of a file, and time it.",
        usage: "bpftimetool run <id> <data_file> [repeat N] [type JIT|AOT|INTERPRET] [-j|-p] [--max-insns N] [--ctx-in FILE] [--data-out FILE]",
        discussion: """
        r1 points at a private copy of the file's bytes and r2 holds their length; map helpers read and \
        write the segment's maps. `Time taken` is the average over the repetitions, compilation excluded. \
        With --ctx-in (bpftool's ctx_in, for a context that is not the data), r1 points at the context's bytes, \
        followed at the next 8-byte boundary by the data's, and r2 holds the length of both. The repetitions \
        share one buffer; --data-out (bpftool's data_out) writes the data as the last run left it.
        """)

    @Argument(help: "The program's fd.") var id: Int
    @Argument(help: "The input file.") var dataFile: String
    @Argument(help: "bpftime's trailing words: `repeat N` and/or `type JIT|AOT|INTERPRET`.") var words: [String] = []
    @Option(name: .customLong("repeat"), help: "How many times to run it.") var repeatOption: Int?
    @Option(name: .customLong("type"), help: "JIT (the default on x86-64), AOT or INTERPRET.") var typeOption: String?
    @Option(name: .customLong("max-insns"), help: "End a run after this many instructions.") var maxInstructions: UInt64?
    @Option(name: .customLong("ctx-in"), help: "A context for r1, placed before the data.") var contextFile: String?
    @Option(name: .customLong("data-out"), help: "Write the data as the program left it to this file (- for stdout).") var dataOut: String?
    @OptionGroup var output: JSONOptions
    @OptionGroup var segment: SegmentOptions

    /// `repeat N` and `type T` in any order, as bpftime takes them.
    func trailingSettings() throws -> (repeat: Int?, type: String?) {
        var repeatCount: Int?, type: String?
        var rest = words[...]
        while let word = rest.popFirst() {
            guard let value = rest.popFirst() else { throw ToolError("Invalid subcommand \(word): expected `repeat N` or `type T`") }
            switch word {
            case "repeat":
                guard let n = Int(value) else { throw ToolError("Invalid repeat count \(value)") }
                repeatCount = n
            case "type": type = value
            default: throw ToolError("Invalid subcommand \(word)")
            }
        }
        return (repeatCount, type)
    }

    func run() throws {
        let trailing = try trailingSettings()
        let repeatCount = repeatOption ?? trailing.repeat ?? 1
        guard repeatCount >= 1 else { throw ToolError("Invalid repeat count \(repeatCount): it must be at least 1") }
        let type = try RunType(argument: typeOption ?? trailing.type)

        if !output.enabled {
            print("Running eBPF program with id \(id) and data in file \(dataFile)")
            print("Repeat N: \(repeatCount) with run type \(type.rawValue)")
        }
        let data: [UInt8]
        do { data = try FileIO.read(dataFile, limit: VMOptions.maxInputBytes, what: "a program's input") } catch {
            throw ToolError("Unable to open data in file \(dataFile): \(error)")
        }
        let context = try contextFile.map { try FileIO.read($0, limit: VMOptions.maxInputBytes, what: "a program's context") } ?? []
        let dataOffset = (context.count + 7) & ~7
        guard dataOffset + data.count <= VMOptions.maxInputBytes else {
            throw ToolError("context and data together are larger than \(VMOptions.maxInputBytes) bytes, the most a program's input can be")
        }
        var input = context + [UInt8](repeating: 0, count: dataOffset - context.count) + data
        let shm = try segment.open()
        guard (0 ..< shm.status().maxHandlers).contains(id) else { throw ToolError("Invalid id \(id) not exist") }
        guard case .program? = try shm.handler(at: id) else { throw ToolError("Invalid id \(id) not a bpf program") }

        let program = try SegmentProgram(segment: shm, fd: id)
        let compileStart = ContinuousClock.now
        let engine = try type.engine(for: program, options: VMOptions(maxInstructions: maxInstructions))
        let compileTime = ContinuousClock.now - compileStart

        var result: UInt64 = 0
        let start = ContinuousClock.now
        try input.withUnsafeMutableBytes { memory in
            for _ in 0 ..< repeatCount { result = try engine.run(input: memory, cookie: 0) }
        }
        let elapsed = ContinuousClock.now - start
        let averageNs = elapsed.nanoseconds / Int64(repeatCount)
        if let dataOut {
            let identity = shm.fileIdentity
            let live = FileIO.Protected(device: identity.device, inode: identity.inode, role: "the segment \(shm.name)")
            try FileIO.writeAtomically(dataOut, protecting: [live]) { sink in try input[dataOffset...].withUnsafeBytes(sink) }
        }

        if output.enabled {
            output.print(.object([
                ("id", .int(id)), ("type", .string(type.rawValue)), ("repeat", .int(repeatCount)),
                ("time_ns", .int(averageNs)), ("compile_ns", .int(compileTime.nanoseconds)),
                ("return_value", .uint(result)),
            ]))
        } else {
            print("Time taken: \(averageNs) ns")
            print("Return value: \(result)")
        }
    }
}

enum RunType: String {
    case jit = "JIT", aot = "AOT", interpret = "INTERPRET"

    init(argument: String?) throws {
        // bpftime's default is JIT; where there is none (not x86-64) the interpreter.
        guard let argument else { self = JITProgram.isSupported ? .jit : .interpret; return }
        guard let type = RunType(rawValue: argument.uppercased()) else {
            throw ToolError("Invalid run type \(argument)\nValid run types are JIT, AOT, INTERPRET")
        }
        self = type
    }

    func engine(for program: SegmentProgram, options: VMOptions) throws -> any ProgramEngine {
        switch self {
        case .interpret: return try program.interpreter(options: options)
        case .jit:
            guard JITProgram.isSupported else { throw ToolError("run type JIT needs an x86-64 machine: use type INTERPRET") }
            return try JITProgram(machine: program.interpreter(options: options))
        case .aot: return try program.aotEngine(options: options)
        }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

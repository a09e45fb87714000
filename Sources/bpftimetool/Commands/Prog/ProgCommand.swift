import BPFJSON
import ArgumentParser
import BPFLogging
import BPFModel
import BPFReports
import BPFVM

struct ProgCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prog", abstract: "Load and inspect programs.", subcommands: [ProgLoadCommand.self, Dump.self])

    struct Dump: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disassemble a program of the segment.")
        @Argument(help: "The program's fd.") var fd: Int
        @OptionGroup var output: JSONOptions
        @OptionGroup var segment: SegmentOptions

        func run() throws {
            guard case .program(let p)? = try segment.open().handler(at: fd) else {
                throw ToolError("fd \(fd) is not a program")
            }
            let program = try Program(bytecode: p.bytecode)
            if output.enabled { return output.print(Self.json(fd, p, program)) }
            let aot = p.aotImage.map { ", aot=\($0.count) bytes" } ?? ""
            print("fd \(fd): \(TerminalText.escaped(p.name)) (type \(p.type), \(p.instructionCount) instructions\(aot))")
            print(Disassembler.listing(of: program))
        }

        /// The program and one object per instruction (an lddw's two slots as one), as bpftool's `prog dump -j`.
        static func json(_ fd: Int, _ p: ProgramHandler, _ program: Program) -> JSONText {
            var instructions: [JSONText] = []
            var index = 0
            while index < program.instructions.count {
                let wide = program.instructions[index].isWide && index + 1 < program.instructions.count
                let bytes = program.instructions[index ... (wide ? index + 1 : index)].flatMap(\.bytes)
                instructions.append(.object([("index", .int(index)), ("bytes", .string(Hex.encode(bytes))),
                                             ("disasm", .string(Disassembler.text(of: program, at: index)))]))
                index += wide ? 2 : 1
            }
            return .object([("fd", .int(fd)), ("name", .string(p.name)), ("type", .int(Int64(p.type))),
                            ("insns", .int(p.instructionCount)), ("aot_bytes", p.aotImage.map { .int($0.count) } ?? .null),
                            ("instructions", .array(instructions))])
        }
    }
}

import ArgumentParser
import BPFLogging
import BPFModel
import BPFVM

struct ProgCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prog", abstract: "Load and inspect programs.", subcommands: [ProgLoadCommand.self, Dump.self])

    struct Dump: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disassemble a program of the segment.")
        @Argument(help: "The program's fd.") var fd: Int
        @OptionGroup var segment: SegmentOptions

        func run() throws {
            guard case .program(let p)? = try segment.open().handler(at: fd) else {
                throw ToolError("fd \(fd) is not a program")
            }
            let aot = p.aotImage.map { ", aot=\($0.count) bytes" } ?? ""
            print("fd \(fd): \(TerminalText.escaped(p.name)) (type \(p.type), \(p.instructionCount) instructions\(aot))")
            print(try Disassembler.listing(of: Program(bytecode: p.bytecode)))
        }
    }
}

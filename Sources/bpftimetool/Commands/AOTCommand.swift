import ArgumentParser
import BPFLogging
import BPFRuntime

struct AOTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aot", abstract: "Compile programs ahead of time into the segment.", subcommands: [Compile.self])

    struct Compile: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compile a program to native code stored in the segment beside its bytecode.",
            discussion: """
            `run <fd> <data_file> type AOT` then runs it. The code is tagged with a hash of the bytecode and \
            the helper table's version: once either changes, AOT runs refuse it until it is compiled again.
            """)

        @Argument(help: "The program's fd.") var fd: Int
        @OptionGroup var segment: SegmentOptions

        func run() throws {
            let program = try SegmentProgram(segment: segment.open(), fd: fd)
            let compiled = try program.compileAOT()
            print("AOT compiled program \(fd) (\(TerminalText.escaped(program.handler.name))): \(program.handler.instructionCount) instructions, "
                  + "\(compiled.image.serialized.count) bytes of native code")
            print("Compile time: \(compiled.compileTime.nanoseconds / 1000) us")
        }
    }
}

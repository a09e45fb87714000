import ArgumentParser
import BPFLogging
import BPFReports
import BPFRuntime
import BPFState

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
        @OptionGroup var output: JSONOptions
        @OptionGroup var segment: SegmentOptions
        @OptionGroup var record: RecordOptions
        @OptionGroup var store: StoreOptions

        func run() throws {
            let done = try segment.state().compileAOT(fd, recording: record.recording(into: store), message: "aot compile fd \(fd)")
            let (program, nativeBytes, compileTime) = done.value
            if output.enabled {
                output.print(.object([("fd", .int(fd)), ("name", .string(program.name)), ("insns", .int(program.instructionCount)),
                                      ("native_bytes", .int(nativeBytes)), ("compile_ns", .int(compileTime.nanoseconds))]))
                return try RecordOptions.report(done.record)
            }
            print("AOT compiled program \(fd) (\(TerminalText.escaped(program.name))): \(program.instructionCount) instructions, "
                  + "\(nativeBytes) bytes of native code")
            print("Compile time: \(compileTime.nanoseconds / 1000) us")
            try RecordOptions.report(done.record)
        }
    }
}

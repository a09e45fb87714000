import Foundation
import TestSupport
import Testing

/// Runs the built `bpftimetool` executable as a separate process, on a segment name private to
/// one test, as a user would.
struct ToolRunner {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var stdoutBytes: Data
        var pid: Int32
    }

    let segmentName: String
    private(set) var environment: [String: String]

    init(extraEnvironment: [String: String] = [:]) {
        segmentName = "bpftimetool_e2e_\(getpid())_\(UInt32.random(in: 0 ... .max))"
        var env = ProcessInfo.processInfo.environment
        env["BPFTIME_GLOBAL_SHM_NAME"] = segmentName
        env["SPDLOG_LEVEL"] = env["SPDLOG_LEVEL"] ?? "warn"
        // Changes are recorded: into a history private to this runner, never the user's.
        env["BPFTIME_SNAP_DB"] = FileManager.default.temporaryDirectory.appendingPathComponent("\(segmentName).db").path
        env.merge(extraEnvironment) { $1 }
        environment = env
    }

    /// The same segment and history, with `extra` in the environment.
    func adding(_ extra: [String: String]) -> ToolRunner {
        var runner = self
        runner.environment.merge(extra) { $1 }
        return runner
    }

    /// Runs `body` with a runner on its own segment and history (with `extra` in its
    /// environment), and removes both after it.
    static func using(_ extra: [String: String] = [:], _ body: (ToolRunner) throws -> Void) rethrows {
        let tool = ToolRunner(extraEnvironment: extra)
        defer { tool.cleanUp() }
        try body(tool)
    }

    /// The history this runner's commands record into.
    var historyPath: String { environment["BPFTIME_SNAP_DB"] ?? "" }

    static let executable: URL = {
        // The test bundle sits in the same build folder as the executable.
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return here.appendingPathComponent("bpftimetool")
    }()

    static let repositoryRoot = SharedFiles.packageRoot

    @discardableResult
    func run(_ arguments: [String], stdin: Data? = nil, in directory: URL? = nil) throws -> Result {
        let process = Process()
        process.executableURL = Self.executable
        if let directory { process.currentDirectoryURL = directory }
        process.arguments = arguments
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        // Drain both pipes concurrently so a large output cannot block the child.
        let errData = ErrorDrain(err.fileHandleForReading)
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData.wait(), as: UTF8.self),
                      stdoutBytes: outData, pid: process.processIdentifier)
    }

    /// Removes the segment; every test calls it (in a defer) so no test leaves one behind.
    func cleanUp() {
        _ = try? run(["remove"])
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: historyPath + suffix) }
    }

    func temporaryFile(_ name: String, contents: Data? = nil) -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(segmentName)_\(name)")
        if let contents { #expect(FileManager.default.createFile(atPath: url.path, contents: contents), "cannot write \(url.path)") }
        return url
    }
}

/// Reads a pipe to its end on another thread, so a child filling both pipes cannot block.
private final class ErrorDrain: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }.start()
    }

    func wait() -> Data {
        done.wait()
        return data
    }
}

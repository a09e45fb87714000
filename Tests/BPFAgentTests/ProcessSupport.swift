import Foundation
import Glibc
import Testing

/// The built executables and library beside the test bundle, run as real processes.
enum Built {
    static let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    static let tool = directory.appendingPathComponent("bpftimetool")
    static let target = directory.appendingPathComponent("bpftime-target")
    static let library = directory.appendingPathComponent("libbpftime_agent.so")
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let header = repository.appendingPathComponent("Sources/BPFAgentC/include")
}

struct Outcome {
    var status: Int32
    /// Killed by a signal (a crash, unless we sent it).
    var signaled: Bool
    var timedOut: Bool
    var stdout: String
    var stderr: String
    var ok: Bool { status == 0 && !signaled && !timedOut }
}

/// A process whose output goes to files (so that it can never block on a full pipe).
final class Child {
    let process = Process()
    let outURL: URL, errURL: URL

    init(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws {
        let tag = "\(getpid())_\(UInt32.random(in: 0 ... .max))"
        outURL = FileManager.default.temporaryDirectory.appendingPathComponent("agent_test_\(tag).out")
        errURL = FileManager.default.temporaryDirectory.appendingPathComponent("agent_test_\(tag).err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["SPDLOG_LEVEL"] = env["SPDLOG_LEVEL"] ?? "warn"
        // The tool records its changes only where a test gives it a history, never in the user's.
        if environment["BPFTIME_SNAP_DB"] == nil { env["BPFTIME_SNAP_RECORD"] = "0" }
        env.merge(environment) { $1 }
        process.environment = env
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var stdout: String { (try? String(contentsOf: outURL, encoding: .utf8)) ?? "" }

    /// Waits at most `seconds`; a process still running then is killed and reported timed out.
    func wait(seconds: Double = 60) -> Outcome {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(2000) }
        let timedOut = process.isRunning
        if timedOut {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
        let outcome = Outcome(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
                              timedOut: timedOut, stdout: stdout, stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
        try? FileManager.default.removeItem(at: outURL)
        try? FileManager.default.removeItem(at: errURL)
        return outcome
    }

    /// Kills the process (SIGKILL: a child may inherit a mask that blocks SIGTERM).
    func stop() -> Outcome {
        if process.isRunning { kill(pid, SIGKILL) }
        return wait(seconds: 10)
    }
}

@discardableResult
func run(_ executable: URL, _ arguments: [String], environment: [String: String] = [:], seconds: Double = 60) throws -> Outcome {
    try Child(executable, arguments, environment: environment).wait(seconds: seconds)
}

/// The demo state with its uprobe on the built bpftime-target's hooked function.
func demoState(for segment: String) throws -> URL {
    let hook = try run(Built.target, ["--print-hook"])
    let parts = hook.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ":")
    guard hook.ok, parts.count == 2, let offset = UInt64(parts[1].dropFirst(2), radix: 16) else {
        throw TestFailure("bpftime-target --print-hook printed \"\(hook.stdout)\" \(hook.stderr)")
    }
    let data = try Data(contentsOf: Built.repository.appendingPathComponent("Scripts/demo-state.json"))
    guard var state = try JSONSerialization.jsonObject(with: data) as? [String: Any],
          var event = state["6"] as? [String: Any], var attr = event["attr"] as? [String: Any] else {
        throw TestFailure("Scripts/demo-state.json has no perf event at fd 6")
    }
    attr["_module_name"] = String(parts[0])
    attr["offset"] = offset
    event["attr"] = attr
    state["6"] = event
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(segment)_state.json")
    try JSONSerialization.data(withJSONObject: state).write(to: url)
    return url
}

/// Per-pid call counts of the demo's hash map (fd 3) in an exported document.
func demoCounts(inExport url: URL) throws -> [UInt32: UInt64] {
    let data = try Data(contentsOf: url)
    guard let state = try JSONSerialization.jsonObject(with: data) as? [String: Any],
          let map = state["3"] as? [String: Any], let entries = map["data"] as? [String: String] else {
        throw TestFailure("export \(url.path) has no map data at fd 3")
    }
    var counts: [UInt32: UInt64] = [:]
    for (key, value) in entries {
        counts[UInt32(littleEndianHex: key)] = UInt64(littleEndianHex: value)
    }
    return counts
}

extension FixedWidthInteger {
    init(littleEndianHex text: String) {
        var result = Self.zero
        var bytes = Array(text.utf8)[...]
        var shift = 0
        while bytes.count >= 2, shift < Self.bitWidth {
            result |= Self(UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16) ?? 0) << shift
            bytes = bytes.dropFirst(2)
            shift += 8
        }
        self = result
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

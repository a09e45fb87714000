import Foundation

/// Test support: compiles the C programs of `examples/` with a clang that has the BPF target: the one beside
/// `swift` on PATH (the Swift toolchain's), else `$BPF_CLANG`, else `clang` on PATH.
public enum ExampleCompiler {
    public static let examples = SharedFiles.packageRoot.appendingPathComponent("examples")

    /// A clang with the BPF target, or `nil` (tests then skip, saying why).
    public static let clang: String? = {
        var candidates: [String] = []
        if let given = ProcessInfo.processInfo.environment["BPF_CLANG"] { candidates.append(given) }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            if FileManager.default.isExecutableFile(atPath: "\(dir)/swift") { candidates.append("\(dir)/clang") }
        }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") { candidates.append("\(dir)/clang") }
        return candidates.first { path in
            FileManager.default.isExecutableFile(atPath: path) && ((try? run(path, ["-print-targets"]))?.output.contains("bpf ") ?? false)
        }
    }()

    public static let skipReason = "no clang with the BPF target found (beside swift on PATH, $BPF_CLANG, or clang on PATH)"

    static let output: URL = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bpfobject-examples-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }()

    /// Compiles `examples/<name>.bpf.c` (uprobes on `target`) and returns the object's path.
    public static func compile(_ name: String, target: String = "./bpftime-target", extraFlags: [String] = []) throws -> URL {
        guard let clang else { throw CompileError(skipReason) }
        let object = output.appendingPathComponent("\(name)-\(abs(target.hashValue)).bpf.o")
        if FileManager.default.fileExists(atPath: object.path) { return object }
        let result = try run(clang, ["-target", "bpf", "-O2", "-g", "-c", "-DTARGET=\"\(target)\""] + extraFlags
                                 + [examples.appendingPathComponent("\(name).bpf.c").path, "-o", object.path])
        guard result.status == 0 else { throw CompileError("clang failed on \(name).bpf.c: \(result.output)") }
        return object
    }

    public static let all = ["uprobe_counter", "funclatency", "queue_producer", "tailcall", "ringbuf_emitter", "kprobe_args"]

    public struct CompileError: Error, CustomStringConvertible {
        public let description: String
        init(_ d: String) { description = d }
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

extension ExampleCompiler {
    /// Compiles C source given inline (with the examples' header) and returns the object's bytes.
    public static func compile(source: String, name: String, header: Bool = true) throws -> [UInt8] {
        guard let clang else { throw CompileError(skipReason) }
        let file = output.appendingPathComponent("\(name).bpf.c"), object = output.appendingPathComponent("\(name).bpf.o")
        try ((header ? "#include \"bpf_example.h\"\n" : "#define SEC(n) __attribute__((section(n), used))\n") + source).write(to: file, atomically: true, encoding: .utf8)
        let result = try run(clang, ["-target", "bpf", "-O2", "-g", "-c", "-I", examples.path, file.path, "-o", object.path])
        guard result.status == 0 else { throw CompileError("clang failed on \(name): \(result.output)") }
        return [UInt8](try Data(contentsOf: object))
    }
}

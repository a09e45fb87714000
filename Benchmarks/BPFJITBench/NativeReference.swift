import Foundation

/// `../shared/bench/native.c` built by gcc as a library (its `main` renamed `native_main`) and
/// called in this process, so that each JIT (or interpreter) run is paired with a native run of the
/// same work moments later. Runs minutes apart in separate processes see different neighbours: on a machine
/// shared with other builds a pass over 64 KiB (twice the L1 cache) varied 3x from run to run.
struct NativeReference {
    typealias Main = @convention(c) (Int32, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32
    let main: Main

    /// native.c's command and the `bench_meta.json` parameter giving its work, by benchmark.
    static let work: [String: (command: String, parameter: String)] = [
        "bench_alu_loop": ("alu", "N"), "bench_mem_sum": ("sum", "R"), "bench_fnv1a": ("fnv", "R"),
    ]

    init(library: String) {
        guard let handle = dlopen(library, RTLD_NOW), let symbol = dlsym(handle, "native_main") else {
            fail("cannot load native_main from \(library): \(String(cString: dlerror()))")
        }
        main = unsafeBitCast(symbol, to: Main.self)
    }

    /// CPU ns of native.c doing `command` `count` times over `memoryFile`.
    func run(_ command: String, _ count: Int, _ memoryFile: String) -> UInt64 {
        let words: [String] = ["native", command, String(count), memoryFile]
        let args: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) }
        defer { args.forEach { free($0) } }
        var argv = args + [nil]
        let start = now(CLOCK_THREAD_CPUTIME_ID)
        guard main(Int32(args.count), &argv) == 0 else { fail("native \(command) failed") }
        return now(CLOCK_THREAD_CPUTIME_ID) - start
    }

    /// Engine / native CPU time of `pairs` pairs, native's fixed cost (reading the file, a run of
    /// count 0, measured beside each pair) taken off.
    func pairedRatios(_ command: String, _ count: Int, memoryFile: String, memory: [UInt8], pairs: Int,
                      engine: (UnsafeMutableRawBufferPointer) throws -> UInt64) throws -> [Double] {
        var ratios: [Double] = []
        for _ in 0 ..< pairs {
            var copy = memory
            let engineNs = try copy.withUnsafeMutableBytes { buffer in
                let start = now(CLOCK_THREAD_CPUTIME_ID)
                _ = try engine(buffer)
                return now(CLOCK_THREAD_CPUTIME_ID) - start
            }
            let nativeNs = run(command, count, memoryFile)
            let fixedNs = run(command, 0, memoryFile)
            ratios.append(Double(engineNs) / Double(max(nativeNs - min(fixedNs, nativeNs), 1)))
        }
        return ratios
    }
}

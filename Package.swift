// swift-tools-version:6.0
import PackageDescription

// No unsafe flags by default: SwiftPM refuses them in a package depended upon by version, and
// Scripts/consumer.sh proves that such a dependency builds. The class fields the VM, runtime,
// segment and agent touch on every run or map operation are exempt from dynamic exclusivity
// checks one by one (`@exclusivity(unchecked)`, each with its reason), which keeps their hot
// paths as fast as the former `-enforce-exclusivity=unchecked` on the whole modules.

// Scripts/test.sh (the whole suite) sets BPFTIMETOOL_FAST_DEBUG=1 to optimize BPFSnapshots in
// debug builds too: its tests save histories of 100,000-entry maps, whose sorting, hashing and
// merging is generic code that runs ~3x slower unoptimized (BPFSnapshotsTests in debug, load 5-8:
// 112 s wall and 51 s of CPU with -O, 349 s and 147 s without). It is an unsafe flag, so it is off
// by default: a package depending on this one never gets it. (BPFFleet no longer needs it: its
// end-to-end suites took 120 s with it, 112 s without, waiting on PostgreSQL and processes.)
let optimizedInDebug: [SwiftSetting] = Context.environment["BPFTIMETOOL_FAST_DEBUG"] == "1"
    ? [.unsafeFlags(["-O"], .when(configuration: .debug))] : []

let package = Package(
    name: "bpftimetool",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "bpftimetool", targets: ["bpftimetool"]),
        .library(name: "BPFModel", targets: ["BPFModel"]),
        .library(name: "BPFSegment", targets: ["BPFSegment"]),
        .library(name: "BPFInterchange", targets: ["BPFInterchange"]),
        .library(name: "BPFVM", targets: ["BPFVM"]),
        .library(name: "BPFSnapshots", targets: ["BPFSnapshots"]),
        .library(name: "BPFReports", targets: ["BPFReports"]),
        .library(name: "BPFHistoryServer", targets: ["BPFHistoryServer"]),
        .library(name: "BPFRuntime", targets: ["BPFRuntime"]),
        .library(name: "BPFState", targets: ["BPFState"]),
        .library(name: "BPFAgent", targets: ["BPFAgent"]),
        .library(name: "BPFObject", targets: ["BPFObject"]),
        // The agent for C and Python (ctypes): libbpftime_agent.so, header in Sources/BPFAgentC/include.
        .library(name: "bpftime_agent", type: .dynamic, targets: ["BPFAgentC"]),
        .executable(name: "bpftime-target", targets: ["bpftime-target"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system", exact: "1.8.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3" ..< "5.0.0"),
        // `swift package generate-documentation` (Scripts/docs.sh); a plugin, not linked into anything.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", exact: "1.5.0"),
        // The fleet history's PostgreSQL client (BPFFleet only).
        .package(url: "https://github.com/vapor/postgres-nio", exact: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.25.0"),
        // The web server of `snap serve` (BPFHistoryServer only).
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
    ],
    targets: [
        // Plain values describing handlers: the language every other module speaks.
        .target(name: "BPFModel"),
        .target(name: "BPFJSON", dependencies: ["BPFModel"]),
        // bpftime-style log lines on stderr.
        .target(name: "BPFLogging", dependencies: [.product(name: "Logging", package: "swift-log")]),
        // The shared-memory segment: layout, allocator, lock, handler table, map storage.
        .target(name: "BPFSegment", dependencies: ["BPFModel", "BPFLogging", "CHints"]),
        // CPU and compiler hints Swift does not expose: prefetch for batched map operations, an
        // opaque value for the interpreter's branch-free steps.
        .target(name: "CHints"),
        // bpftime's JSON format, read and written.
        .target(name: "BPFInterchange", dependencies: ["BPFModel", "BPFJSON"]),
        // The eBPF virtual machine: ISA, validator, interpreter, JIT, disassembler.
        .target(name: "BPFVM", dependencies: ["BPFModel", "CHints"]),
        // eBPF object files (clang -target bpf) read into programs and maps, as libbpf reads them.
        .target(name: "BPFObject", dependencies: ["BPFModel"]),
        // The one SQLite call Swift cannot make (a variadic one), for the history.
        .target(name: "SQLiteShims", linkerSettings: [.linkedLibrary("sqlite3")]),
        // The SQLite snapshot history.
        .target(name: "BPFSnapshots", dependencies: ["BPFModel", "BPFJSON", "SQLiteShims", .product(name: "GRDB", package: "GRDB.swift"),
                                                 .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: optimizedInDebug,
                plugins: ["EmbedMigrations"]),
        // The history on PostgreSQL (postgres-nio) behind the same SQL connection as SQLite, so
        // that push and pull run one transfer between any two stores.
        .target(name: "BPFFleet", dependencies: ["BPFSnapshots", "BPFLogging", .product(name: "PostgresNIO", package: "postgres-nio"),
                                                 .product(name: "NIOCore", package: "swift-nio"),
                                                 .product(name: "NIOSSL", package: "swift-nio-ssl")]),
        // Embeds migrations/*.sql into BPFSnapshots at build time, so a copied binary carries its schema.
        .plugin(name: "EmbedMigrations", capability: .buildTool(), dependencies: ["MigrationEmbedder"]),
        .executableTarget(name: "MigrationEmbedder"),
        // Figures for Scripts/bench-snap.sh; also the second process of the BPFSnapshots concurrency tests.
        .executableTarget(name: "BPFSnapshotsBench", dependencies: ["BPFModel", "BPFSnapshots"], path: "Benchmarks/BPFSnapshotsBench"),
        // Handlers, snapshots and diffs as text tables and JSON: one rendering for the CLI and the server.
        .target(name: "BPFReports", dependencies: ["BPFModel", "BPFJSON", "BPFSnapshots", "BPFVM", "BPFLogging"]),
        // `snap serve`: the history as web pages and the JSON API.
        .target(name: "BPFHistoryServer", dependencies: [
            "BPFModel", "BPFJSON", "BPFSnapshots", "BPFReports", "BPFVM", "BPFLogging",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Programs of a segment run on the VM, with helpers backed by the segment's maps.
        .target(name: "BPFRuntime", dependencies: ["BPFModel", "BPFSegment", "BPFVM", "BPFLogging"]),
        // The use cases on a runtime's state (import, consistent read, save, diff, restore) between
        // the adapters and the command line.
        .target(name: "BPFState", dependencies: ["BPFModel", "BPFSegment", "BPFSnapshots", "BPFRuntime", "BPFLogging"]),
        // Export/import benchmark behind Scripts/bench-json.sh.
        .executableTarget(name: "BPFInterchangeBench", dependencies: ["BPFInterchange", "BPFModel"], path: "Benchmarks/BPFInterchangeBench"),
        .executableTarget(name: "bpftimetool", dependencies: [
            "BPFModel", "BPFSegment", "BPFInterchange", "BPFVM", "BPFSnapshots", "BPFRuntime", "BPFState", "BPFLogging", "BPFObject",
            "BPFReports", "BPFHistoryServer", "BPFFleet", "BPFJSON",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "SystemPackage", package: "swift-system"),
        ]),
        // Release-build figures for Scripts/bench-segment.sh.
        .executableTarget(name: "BPFSegmentBench", dependencies: ["BPFModel", "BPFSegment"], path: "Benchmarks/BPFSegmentBench"),
        // Interpreter figures for Scripts/bench-vm.sh.
        .executableTarget(name: "BPFVMBench", dependencies: ["BPFVM", "BPFModel", "BPFSegment", "BPFRuntime"], path: "Benchmarks/BPFVMBench"),
        // JIT figures for Scripts/bench-jit.sh.
        .executableTarget(name: "BPFJITBench", dependencies: ["BPFVM"], path: "Benchmarks/BPFJITBench"),
        // Runs the segment's programs at the hooks of the process it is linked into.
        .target(name: "BPFAgent", dependencies: ["BPFModel", "BPFSegment", "BPFVM", "BPFRuntime", "BPFLogging"]),
        // The agent's C ABI (@_cdecl functions declared by include/bpftime_agent.h).
        .target(name: "BPFAgentC", dependencies: ["BPFAgent", "BPFLogging"], exclude: ["include"]),
        // Example target process: calls a function in a loop and fires its hook.
        .executableTarget(name: "bpftime-target", dependencies: ["BPFAgent", "BPFLogging"]),
        // Figures for Scripts/bench-agent.sh.
        .executableTarget(name: "BPFAgentBench", dependencies: ["BPFAgent", "BPFAgentC", "BPFModel", "BPFSegment"], path: "Benchmarks/BPFAgentBench"),
        // Test-only: the one way tests find ../shared, and the examples/ programs compiled by clang.
        .target(name: "TestSupport", dependencies: ["BPFModel", "BPFSegment", "BPFVM", "BPFRuntime"], path: "Tests/TestSupport"),
        .testTarget(name: "BPFModelTests", dependencies: ["BPFModel"]),
        .testTarget(name: "BPFJSONTests", dependencies: ["BPFJSON"]),
        .testTarget(name: "BPFSegmentTests", dependencies: ["BPFSegment"]),
        .testTarget(name: "BPFInterchangeTests", dependencies: ["TestSupport", "BPFInterchange"]),
        .testTarget(name: "BPFVMTests", dependencies: ["TestSupport", "BPFVM"]),
        .testTarget(name: "BPFSnapshotsTests", dependencies: ["BPFSnapshots", "BPFInterchange"]),
        .testTarget(name: "BPFRuntimeTests", dependencies: ["BPFRuntime"]),
        .testTarget(name: "BPFStateTests", dependencies: ["BPFState", "BPFModel", "BPFSegment", "BPFSnapshots", "BPFVM", "BPFRuntime"]),
        .testTarget(name: "BPFToolTests", dependencies: ["TestSupport", "BPFModel"]),
        .testTarget(name: "BPFObjectTests", dependencies: ["TestSupport", "BPFObject", "BPFModel", "BPFVM"]),
        .testTarget(name: "BPFAgentTests", dependencies: ["TestSupport", "BPFAgent", "BPFModel", "BPFObject", "BPFRuntime", "BPFSegment", "BPFVM"]),
    ],
    // Every target in the Swift 6 language mode (complete concurrency checking).
    swiftLanguageModes: [.v6]
)

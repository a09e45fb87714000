// swift-tools-version:6.0
// Another package that depends on this one BY VERSION, as an embedder would: Scripts/consumer.sh
// puts a tagged copy of this repository beside it (../bpftimetool, tag 1.0.0) and builds and runs
// it. SwiftPM refuses a product depended upon by version whose targets use unsafe build flags.
import PackageDescription

// Every library product: depending on one is what SwiftPM checks for unsafe flags, whether or
// not it is built.
let libraries = ["BPFModel", "BPFSegment", "BPFInterchange", "BPFVM", "BPFSnapshots", "BPFReports", "BPFHistoryServer",
                 "BPFRuntime", "BPFState", "BPFAgent", "BPFObject", "bpftime_agent"]

let package = Package(
    name: "SegmentConsumer",
    dependencies: [.package(url: "file://\(Context.packageDirectory)/../bpftimetool", from: "1.0.0")],
    targets: [
        // Built and run: a program on the VM updates a segment's map, read back through BPFSegment.
        .executableTarget(name: "SegmentConsumer", dependencies: ["BPFModel", "BPFSegment", "BPFVM", "BPFRuntime"].map {
            .product(name: $0, package: "bpftimetool")
        }),
        // Never built (that would build GRDB, NIO, Hummingbird): it makes SwiftPM check every product.
        .target(name: "EveryLibrary", dependencies: libraries.map { .product(name: $0, package: "bpftimetool") }),
    ]
)

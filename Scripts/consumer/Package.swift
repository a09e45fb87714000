// swift-tools-version:6.0
// Another package that depends on this one, as an embedder would: Scripts/consumer.sh builds
// and runs it, proving the libraries can be linked from outside (no unsafe build flags).
import PackageDescription

let package = Package(
    name: "SegmentConsumer",
    dependencies: [.package(name: "bpftimetool", path: "../..")],
    targets: [
        .executableTarget(name: "SegmentConsumer", dependencies: [
            .product(name: "BPFSegment", package: "bpftimetool"),
            .product(name: "BPFModel", package: "bpftimetool"),
        ]),
    ]
)

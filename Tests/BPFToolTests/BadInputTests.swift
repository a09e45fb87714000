import Foundation
import Testing

/// Every bad import is refused with a message and a non-zero exit, and leaves the segment as it was.
@Suite(.serialized) struct BadInputTests {
    static let map3 = #""3": {"type": "bpf_map_handler", "name": "m", "attr": {"map_type": 1, "key_size": 4, "value_size": 8, "max_entries": 16, "flags": 0, "ifindex": 0, "btf_vmlinux_value_type_id": 0, "btf_id": 0, "btf_key_type_id": 0, "btf_value_type_id": 0, "map_extra": 0, "kernel_bpf_map_id": 0}}"#

    static func program(fd: Int, insns: String, cnt: Int, attach: String = "") -> String {
        #""\#(fd)": {"type": "bpf_prog_handler", "name": "p", "attr": {"type": 0, "cnt": \#(cnt), "insns": "\#(insns)"\#(attach)}}"#
    }

    static let exitInsns = "b7000000000000009500000000000000"

    /// name → (document, a fragment the error message must contain)
    static let cases: [(String, String, String)] = [
        ("truncated JSON", "{" + map3, "line"),
        ("wrong type", #"{"3": {"type": "bpf_map_handler", "name": "m", "attr": {"map_type": "hash"}}}"#, "map_type"),
        ("odd-length hex", "{" + program(fd: 4, insns: "b70000000000000", cnt: 1) + "}", "insns"),
        ("non-hex", "{" + program(fd: 4, insns: "zz00000000000000", cnt: 1) + "}", "insns"),
        ("cnt mismatch", "{" + program(fd: 4, insns: exitInsns, cnt: 3) + "}", "cnt"),
        ("dangling attach fd", "{" + program(fd: 9, insns: exitInsns, cnt: 2, attach: #", "attach_fds": [99]"#) + "}", "99"),
        ("dangling link", #"{"8": {"type": "bpf_link_handler", "attr": {"prog_fd": 40, "target_fd": 41}}}"#, "40"),
        ("fd collision", "{" + map3 + "}", "3"),
        ("unknown handler type", #"{"9": {"type": "bpf_banana_handler"}}"#, "bpf_banana_handler"),
        ("negative fd", #"{"-1": {"type": "epoll_handler"}}"#, "-1"),
    ]

    @Test(arguments: cases.map(\.0))
    func badImportLeavesSegmentUnchanged(_ name: String) throws {
        let (_, document, fragment) = try #require(Self.cases.first { $0.0 == name })
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        // A segment that already holds something: map 3 and a program.
        let seed = "{" + Self.map3 + ", " + Self.program(fd: 4, insns: Self.exitInsns, cnt: 2) + "}"
        #expect(try tool.run(["import", "-"], stdin: Data(seed.utf8)).status == 0)
        let before = try tool.run(["export", "-"])
        let generationBefore = try tool.run(["status", "--json"]).stdout

        let result = try tool.run(["import", "-"], stdin: Data(document.utf8))
        #expect(result.status != 0, "\(name) was accepted")
        #expect(result.stderr.contains(fragment), "\(name): message \(result.stderr) lacks \(fragment)")
        #expect(!result.stderr.contains("Fatal error"))

        #expect(try tool.run(["export", "-"]).stdoutBytes == before.stdoutBytes)
        #expect(try tool.run(["status", "--json"]).stdout == generationBefore)
    }

    @Test func fullSegmentRefusesWholeImport() throws {
        let tool = ToolRunner(extraEnvironment: ["BPFTIME_SHM_MEMORY_MB": "1"])
        defer { tool.cleanUp() }
        #expect(try tool.run(["import", "-"], stdin: Data("{\(Self.map3)}".utf8)).status == 0)
        let before = try tool.run(["export", "-"])
        // Ten maps of 100,000 preallocated entries cannot fit in 1 MiB.
        let maps = (10 ..< 20).map { fd in
            Self.map3.replacingOccurrences(of: "\"3\"", with: "\"\(fd)\"").replacingOccurrences(of: "\"max_entries\": 16", with: "\"max_entries\": 100000")
        }
        let result = try tool.run(["import", "-"], stdin: Data(("{" + maps.joined(separator: ",") + "}").utf8))
        #expect(result.status != 0)
        #expect(result.stderr.lowercased().contains("full") || result.stderr.lowercased().contains("space"), "\(result.stderr)")
        #expect(try tool.run(["export", "-"]).stdoutBytes == before.stdoutBytes)
    }

    @Test func missingSegmentAndMissingFileGiveHints() throws {
        let tool = ToolRunner()
        let list = try tool.run(["list"])
        #expect(list.status != 0)
        #expect(list.stderr.contains("no segment named \(tool.segmentName)"))
        #expect(list.stderr.contains("\nhint: create one with `bpftimetool import FILE`"), "\(list.stderr)")
        let missing = try tool.run(["import", "/nonexistent/state.json"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("/nonexistent/state.json"))
    }

    @Test func badMapArgumentsAreRefused() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        #expect(try tool.run(["import", "-"], stdin: Data("{\(Self.map3)}".utf8)).status == 0)
        for args in [["map", "get", "3", "0102"], ["map", "update", "3", "01000000", "xyz"], ["map", "dump", "77"]] {
            let r = try tool.run(args)
            #expect(r.status != 0, "\(args)")
            #expect(!r.stderr.isEmpty)
        }
    }
}

import Foundation
import Testing

/// A corrupt word in the segment is reported as "segment ... is corrupt", never a trap.
@Suite(.serialized) struct CorruptSegmentTests {
    static let demoState = ToolRunner.repositoryRoot.appendingPathComponent("Scripts/demo-state.json").path

    /// Writes `value` at byte `offset` of the segment's shared-memory object.
    static func poke(_ tool: ToolRunner, offset: Int, _ value: UInt64) throws {
        let fd = open("/dev/shm/\(tool.segmentName)", O_RDWR)
        try #require(fd >= 0)
        defer { close(fd) }
        var word = value.littleEndian
        #expect(pwrite(fd, &word, 8, off_t(offset)) == 8)
    }

    @Test(arguments: [["list"], ["export", "-"], ["check"], ["map", "dump", "3"], ["unload", "5"], ["snap", "save"]])
    func overflowingSlotIsReportedNotTrapped(_ command: [String]) throws {
        let db = FileManager.default.temporaryDirectory.appendingPathComponent("corrupt_\(getpid())_\(UInt32.random(in: 0 ... .max)).db").path
        let tool = ToolRunner(extraEnvironment: ["BPFTIME_SNAP_DB": db])
        defer {
            tool.cleanUp()
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) }
        }
        #expect(try tool.run(["import", Self.demoState]).status == 0)
        // The handler-table slot of fd 3 (the table starts at 4096, 8 bytes per fd).
        try Self.poke(tool, offset: 4096 + 3 * 8, 0x8000_0000_0000_0000)
        let result = try tool.run(command)
        #expect(result.status == 1, "\(command) ended with \(result.status): \(result.stderr)")
        // check lists its findings on stdout; the others fail with "segment ... is corrupt".
        let report = command == ["check"] ? result.stdout : result.stderr
        #expect(report.contains("fd 3"), "\(report)")
        if command != ["check"] { #expect(report.contains("corrupt"), "\(report)") }
    }

    @Test func runOfAProgramWhoseMapIsCorruptIsAnError() throws {
        let tool = ToolRunner()
        defer { tool.cleanUp() }
        #expect(try tool.run(["import", Self.demoState]).status == 0)
        try Self.poke(tool, offset: 4096 + 3 * 8, 0x8000_0000_0000_0000)
        let input = tool.temporaryFile("input", contents: Data(count: 16))
        defer { try? FileManager.default.removeItem(at: input) }
        let result = try tool.run(["run", "4", input.path, "type", "INTERPRET"])
        // The program's map cannot be resolved: an error naming it, not a trap.
        #expect(result.status == 1, "run ended with \(result.status): \(result.stderr)")
        #expect(result.stderr.contains("map fd 3"), "\(result.stderr)")
    }
}

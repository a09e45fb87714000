import BPFModel
import BPFRuntime
import BPFSegment
import BPFVM
import Glibc
import Testing

/// AOT code compiled into the segment and run from it, with the segment's maps.
@Suite(.serialized) struct AOTTests {
    /// `count_calls` and `sum_bytes` of Scripts/demo-state.json: per-pid counts in the hash map at
    /// fd 3 (helper calls and an `lddw` map load to relocate), and the sum of the input's bytes.
    static let countCalls = bytes("850000000e0000007700000020000000630afcff0000000018110000030000000000000000000000bfa200000000000007020000fcffffff85000000010000001500040000000000790100000000000007010000010000007b1000000000000005000a0000000000b7010000010000007b1af0ff0000000018110000030000000000000000000000bfa200000000000007020000fcffffffbfa300000000000007030000f0ffffffb7040000000000008500000002000000b7000000000000009500000000000000")
    static let sumBytes = bytes("b7000000000000001502060000000000bf130000000000000f2300000000000071140000000000000f400000000000000701000001000000ad31fcff000000009500000000000000")

    static func bytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0 ..< $0 + 2], as: UTF8.self), radix: 16) ?? 0 }
    }

    static func withSegment(_ body: (Segment) throws -> Void) throws {
        let name = "bpftimetool_aot_test_\(getpid())_\(UInt32.random(in: 0 ... .max))"
        let segment = try Segment.create(SegmentConfiguration(name: name, sizeBytes: 2 << 20, maxHandlers: 64))
        defer { try? Segment.remove(name: name) }
        try segment.apply([
            HandlerRecord(fd: 3, handler: .map(MapHandler(name: "counts", attributes: MapAttributes(mapType: 1, keySize: 4, valueSize: 8, maxEntries: 64)))),
            HandlerRecord(fd: 4, handler: .program(ProgramHandler(name: "count_calls", type: 0, bytecode: countCalls))),
            HandlerRecord(fd: 5, handler: .program(ProgramHandler(name: "sum_bytes", type: 0, bytecode: sumBytes))),
        ])
        try body(segment)
    }

    static func run(_ engine: any ProgramEngine, _ input: [UInt8]) throws -> UInt64 {
        var input = input
        return try input.withUnsafeMutableBytes { try engine.run(input: $0, cookie: 0, readable: nil) }
    }

    @Test func compiledCodeRunsFromTheSegmentLikeTheInterpreter() throws {
        try Self.withSegment { segment in
            for fd in [4, 5] {
                let before = segment.generation
                let compiled = try SegmentProgram(segment: segment, fd: fd).compileAOT()
                #expect(segment.generation > before)
                #expect(try SegmentProgram(segment: segment, fd: fd).handler.aotImage == compiled.image.serialized)
            }
            let sum = try SegmentProgram(segment: segment, fd: 5)
            let hello = Array("hello".utf8)
            #expect(try Self.run(sum.aotEngine(), hello) == 532)
            #expect(try Self.run(sum.aotEngine(), hello) == Self.run(sum.interpreter(), hello))

            // Both engines count into the segment's map, under this process's pid.
            let count = try SegmentProgram(segment: segment, fd: 4)
            let aot = try count.aotEngine(), interpreter = try count.interpreter()
            for _ in 0 ..< 3 { #expect(try Self.run(aot, []) == Self.run(interpreter, [])) }
            let key = withUnsafeBytes(of: UInt32(getpid()).littleEndian, Array.init)
            #expect(try segment.map(at: 3).lookup(key: key) == withUnsafeBytes(of: UInt64(6).littleEndian, Array.init))
        }
    }

    @Test func missingStaleAndCorruptImagesNeverRun() throws {
        try Self.withSegment { segment in
            #expect(throws: RuntimeError.aotMissing(fd: 5)) { try SegmentProgram(segment: segment, fd: 5).aotEngine() }
            let image = try SegmentProgram(segment: segment, fd: 5).compileAOT().image.serialized

            // Other bytecode at the same fd, carrying the old image: refused as stale.
            var changed = ProgramHandler(name: "sum_bytes", type: 0, bytecode: [0xb7, 0, 0, 0, 7, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0])
            changed.aotImage = image
            try segment.apply([HandlerRecord(fd: 5, handler: .program(changed))], replaceExisting: true)
            try expectStale(segment, fd: 5)
            #expect(try Self.run(SegmentProgram(segment: segment, fd: 5).interpreter(), [1]) == 7)

            // A damaged image: refused too.
            changed.bytecode = Self.sumBytes
            changed.aotImage = Array(image.dropLast())
            try segment.apply([HandlerRecord(fd: 5, handler: .program(changed))], replaceExisting: true)
            try expectStale(segment, fd: 5)

            // AOT code has no instruction counter, so a budget cannot be honoured.
            try SegmentProgram(segment: segment, fd: 5).compileAOT()
            #expect(throws: RuntimeError.aotWithBudget) { try SegmentProgram(segment: segment, fd: 5).aotEngine(options: VMOptions(maxInstructions: 10)) }
            #expect(try Self.run(SegmentProgram(segment: segment, fd: 5).aotEngine(), [1, 2]) == 3)
        }
    }

    private func expectStale(_ segment: Segment, fd: Int) throws {
        do {
            _ = try SegmentProgram(segment: segment, fd: fd).aotEngine()
            Issue.record("stale AOT code was accepted")
        } catch RuntimeError.aotStale(fd, let reason) {
            #expect(reason.refusesStoredImage, "\(reason)")
        } catch {
            Issue.record("stale AOT code refused with \(error)")
        }
    }

    /// Imported native code is accepted only when it is what this build compiles for the bytecode.
    @Test func importedCodeMustBeThisBuildsForItsBytecode() throws {
        try Self.withSegment { segment in
            for fd in [4, 5] { try SegmentProgram(segment: segment, fd: fd).compileAOT() }
            let records = try segment.records(includeContents: false)
            try AOTImageCheck.verify(records, maps: records)
            #expect(throws: RuntimeError.aotUntrusted(fd: 4), "count_calls names map fd 3") { try AOTImageCheck.verify(records, maps: []) }

            func with(_ fd: Int, _ change: (inout ProgramHandler) -> Void) -> [HandlerRecord] {
                records.map { record in
                    guard record.fd == fd, case .program(var p) = record.handler else { return record }
                    change(&p)
                    return HandlerRecord(fd: fd, handler: .program(p))
                }
            }
            let otherBytecode = with(5) { $0.bytecode = [0xb7, 0, 0, 0, 7, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0] }
            let altered = with(4) { $0.aotImage?[60] ^= 1 }
            for bad in [otherBytecode, altered] {
                #expect(throws: RuntimeError.self) { try AOTImageCheck.verify(bad, maps: bad) }
            }
            try AOTImageCheck.verify(with(5) { $0.aotImage = nil; $0.bytecode = [0x95, 0, 0, 0, 0, 0, 0, 0] }, maps: records)
        }
    }

    @Test func compileIsRefusedWhenTheTableChangedMeanwhile() throws {
        try Self.withSegment { segment in
            let program = try SegmentProgram(segment: segment, fd: 5)
            try segment.apply([HandlerRecord(fd: 5, handler: .program(ProgramHandler(name: "newer", type: 0, bytecode: Self.sumBytes)))],
                              replaceExisting: true)
            #expect(throws: SegmentError.tableChanged(name: segment.name)) { try program.compileAOT() }
            #expect(try segment.handler(at: 5) == .program(ProgramHandler(name: "newer", type: 0, bytecode: Self.sumBytes)))
        }
    }
}

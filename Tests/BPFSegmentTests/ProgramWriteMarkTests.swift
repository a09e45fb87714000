@testable import BPFSegment
import BPFModel
import Testing

extension SegmentTests {
    /// The mark a map gets when a program is handed a pointer to write its values in place,
    /// which a recorder reads (and takes) under the lock.
    @Suite struct ProgramWriteMarkTests {
        @Test func aValuePointerHandedOutMarksTheMapUntilTaken() throws {
            try withSegment { segment in
                try segment.apply([mapRecord(3, .hash), mapRecord(4, .array), mapRecord(5, .percpuArray), mapRecord(6, .hash)])
                let hash = try segment.map(at: 3), array = try segment.map(at: 4), perCPU = try segment.map(at: 5)
                #expect(hash.rawUpdate(le32(1), le64(1), flags: bpfAny) == 0)
                #expect(try segment.transaction { try $0.programWrittenMaps() } == [], "an update moves the generation: no mark")
                // The tool's own reads and a miss hand out nothing.
                #expect(try hash.lookup(key: le32(1)) == le64(1))
                #expect(hash.rawLookup(le32(2)) == nil)
                #expect(try segment.transaction { try $0.programWrittenMaps() } == [])

                _ = hash.lookup([1, 0, 0, 0], cpu: 0)?.storeBytes(of: 7, as: UInt64.self)
                _ = array.rawLookup(le32(0))
                _ = perCPU.rawLookup(le32(1), cpu: 1)
                #expect(try segment.transaction { try $0.programWrittenMaps() } == [3, 4, 5])

                let generation = segment.generation
                let taken = try segment.transaction { try $0.takeProgramWrites([3, 4]) }
                #expect(segment.generation == generation + 1, "taking marks moves the generation")
                #expect(taken.map(\.fd) == [3, 4])
                guard case .map(let read)? = taken.first?.handler else { Issue.record("no map read"); return }
                #expect(read.contents?.values == le64(7), "read whole, with the value written in place")
                #expect(try segment.transaction { try $0.programWrittenMaps() } == [5])
                #expect(try segment.transaction { try $0.takeProgramWrites([]) } == [])
                #expect(segment.generation == generation + 1, "taking nothing moves nothing")
            }
        }

        @Test func globalDataStaysMarkedAndProgArraysAreNotMarked() throws {
            try withSegment { segment in
                try segment.apply([mapRecord(3, .array, max: 1), mapRecord(4, .progArray, value: 4)])
                #expect(try segment.map(at: 3).globalData() != nil)
                _ = try segment.map(at: 4).rawLookup(le32(0))
                _ = try segment.transaction { try $0.takeProgramWrites([3]) }
                #expect(try segment.transaction { try $0.programWrittenMaps() } == [3], "a program keeps its global data's pointer")
            }
        }
    }
}

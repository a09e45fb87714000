@testable import BPFSegment
import BPFModel
import Glibc
import Testing

extension SegmentTests {
    @Suite struct ApplyTests {
        static let exit: [UInt8] = [0x95, 0, 0, 0, 0, 0, 0, 0]

        /// A small state in bpftime's shape: a map with data, a program attached to a perf event, a link.
        static func state() -> [HandlerRecord] {
            var contents = MapContents(keySize: 4, valueSize: 8)
            for k: UInt32 in 0..<10 { contents.append(key: le32(k), value: le64(UInt64(k) * 3)) }
            return [
                mapRecord(3, .hash, max: 64, contents: contents, name: "counts"),
                HandlerRecord(fd: 4, handler: .program(ProgramHandler(name: "prog", type: 2, bytecode: exit,
                                                                      attachments: [.init(targetFD: 5, cookie: 42)]))),
                HandlerRecord(fd: 5, handler: .perfEvent(PerfEventHandler(event: .uprobe(.init(moduleName: "victim", offset: 4457)), enabled: true))),
                HandlerRecord(fd: 6, handler: .link(LinkHandler(programFD: 4, targetFD: 5, attachType: 1, cookie: 7))),
                HandlerRecord(fd: 7, handler: .epoll),
                HandlerRecord(fd: 8, handler: .memfd(MemfdHandler(name: "mem", flags: 1))),
                HandlerRecord(fd: 9, handler: .perfEvent(PerfEventHandler(event: .tracepoint(pid: -1, tracepointID: 77)))),
                HandlerRecord(fd: 10, handler: .perfEvent(PerfEventHandler(event: .software(cpu: 1, config: 9, sampleType: 3)))),
                HandlerRecord(fd: 11, handler: .perfEvent(PerfEventHandler(event: .uretprobe(.init(moduleName: "v", offset: 1, pid: 3, refCtrOffset: 8))))),
                HandlerRecord(fd: 12, handler: .perfEvent(PerfEventHandler(event: .uprobeOverride(.init(moduleName: "w", offset: 2))))),
            ]
        }

        @Test func roundTripsEveryHandlerKind() throws {
            try withSegment { segment in
                try segment.apply(Self.state().reversed()) // order given does not matter
                #expect(try segment.records(includeContents: true) == Self.state(), "entries come back in the order they were imported")
                #expect(try segment.handler(at: 4) == Self.state()[1].handler)
                #expect(try segment.handler(at: 13) == nil)
                #expect(throws: SegmentError.fdOutOfRange(fd: 256, maxHandlers: 256)) { try segment.handler(at: 256) }
                #expect(segment.status().handlerCount == 10)
                var noData = Self.state()[0]
                if case .map(var m) = noData.handler { m.contents = nil; noData.handler = .map(m) }
                #expect(try segment.records(includeContents: false)[0] == noData)
                #expect(segment.check() == [])
            }
        }

        /// Every refused apply leaves records, usage and generation exactly as they were.
        private func expectUnchanged(_ segment: Segment, _ error: SegmentError, _ apply: () throws -> Void) throws {
            let before = try segment.records(includeContents: true), status = segment.status()
            #expect(throws: error) { try apply() }
            #expect(try segment.records(includeContents: true) == before)
            #expect(segment.status() == status)
            #expect(segment.check() == [])
        }

        @Test func refusalsLeaveTheSegmentUnchanged() throws {
            try withSegment { segment in
                try segment.apply(Self.state())
                let dangling = HandlerRecord(fd: 20, handler: .program(ProgramHandler(name: "p", type: 1, bytecode: Self.exit, attachments: [.init(targetFD: 99)])))
                try expectUnchanged(segment, .danglingReference(fd: 20, field: "attach_fds", target: 99)) {
                    try segment.apply([mapRecord(21, .array), dangling])
                }
                try expectUnchanged(segment, .danglingReference(fd: 22, field: "prog_fd", target: 30)) {
                    try segment.apply([HandlerRecord(fd: 22, handler: .link(LinkHandler(programFD: 30, targetFD: 5)))])
                }
                try expectUnchanged(segment, .fdInUse(fd: 3, kind: "bpf_map_handler")) {
                    try segment.apply([mapRecord(21, .array), mapRecord(3, .array)])
                }
                try expectUnchanged(segment, .fdOutOfRange(fd: 256, maxHandlers: 256)) { try segment.apply([mapRecord(256, .array)]) }
                try expectUnchanged(segment, .fdOutOfRange(fd: -1, maxHandlers: 256)) { try segment.apply([mapRecord(-1, .array)]) }
                try expectUnchanged(segment, .duplicateFD(fd: 21)) { try segment.apply([mapRecord(21, .array), mapRecord(21, .hash)]) }
                var tooMany = MapContents(keySize: 4, valueSize: 8)
                for k: UInt32 in 0..<5 { tooMany.append(key: le32(k), value: le64(0)) }
                try expectUnchanged(segment, .invalidMap(fd: 21, detail: "contents hold 5 entries, max_entries is 4")) {
                    try segment.apply([mapRecord(21, .hash, max: 4, contents: tooMany)])
                }
                var duplicate = MapContents(keySize: 4, valueSize: 8)
                duplicate.append(key: le32(1), value: le64(1))
                duplicate.append(key: le32(1), value: le64(2))
                try expectUnchanged(segment, .invalidMap(fd: 21, detail: "key 01000000 appears twice")) {
                    try segment.apply([mapRecord(20, .array), mapRecord(21, .hash, contents: duplicate)])
                }
                try expectUnchanged(segment, .invalidMap(fd: 21, detail: "contents value size 8 differs from value_size 4")) {
                    try segment.apply([mapRecord(21, .array, value: 4, contents: tooMany)])
                }
                var badIndex = MapContents(keySize: 4, valueSize: 8)
                badIndex.append(key: le32(16), value: le64(0))
                try expectUnchanged(segment, .invalidMap(fd: 21, detail: "index 16 is not below max_entries 16")) {
                    try segment.apply([mapRecord(21, .array, contents: badIndex)])
                }
                try expectUnchanged(segment, .invalidMap(fd: 21, detail: "an array's key_size must be 4, got 8")) {
                    try segment.apply([mapRecord(21, .array, key: 8)])
                }
                try expectUnchanged(segment, .invalidMap(fd: 21, detail: "a perfEventArray map holds no data, but contents were given")) {
                    try segment.apply([mapRecord(21, .perfEventArray, value: 4, contents: MapContents(keySize: 4, valueSize: 4, keys: le32(0), values: le32(1)))])
                }
                // Removing what others refer to, or what is not there.
                try expectUnchanged(segment, .danglingReference(fd: 4, field: "attach_fds", target: 5)) { try segment.apply([], removing: [5]) }
                try expectUnchanged(segment, .noHandler(fd: 40)) { try segment.apply([], removing: [40]) }
            }
        }

        /// bpftime keeps a program's attach_fds that name nothing: allowed on request, they do not
        /// block removing other handlers, `check` accepts them, and a link still must be whole.
        @Test func danglingAttachmentsOnRequest() throws {
            try withSegment { segment in
                try segment.apply(Self.state())
                let dangling = HandlerRecord(fd: 20, handler: .program(ProgramHandler(name: "p", type: 1, bytecode: Self.exit,
                                                                                      attachments: [.init(targetFD: 9), .init(targetFD: 99)])))
                try segment.apply([dangling], allowingDanglingAttachments: true)
                #expect(try segment.handler(at: 20) == dangling.handler)
                #expect(segment.check() == [])
                try segment.apply([], removing: [7])
                try expectUnchanged(segment, .danglingReference(fd: 20, field: "attach_fds", target: 9)) { try segment.apply([], removing: [9]) }
                try expectUnchanged(segment, .danglingReference(fd: 22, field: "target_fd", target: 98)) {
                    try segment.apply([HandlerRecord(fd: 22, handler: .link(LinkHandler(programFD: 20, targetFD: 98)))], allowingDanglingAttachments: true)
                }
            }
        }

        @Test func fullSegmentRefusesAndStaysUnchanged() throws {
            try withSegment(sizeMB: 2, maxHandlers: 64) { segment in
                try segment.apply(Self.state())
                // Passes the estimate, fails midway: the second map does not fit after the first.
                let free = Allocator(segment.header).freeBytes
                let half = UInt32(free / 2 / 8)
                let before = try segment.records(includeContents: true), status = segment.status()
                do {
                    try segment.apply([mapRecord(20, .array, max: half), mapRecord(21, .array, max: half), mapRecord(22, .array, max: half)])
                    Issue.record("an apply larger than the segment succeeded")
                } catch let error as SegmentError {
                    guard case .full = error else { Issue.record("wrong error \(error)"); return }
                    #expect(error.description.contains("is full") && error.description.contains("BPFTIME_SHM_MEMORY_MB"))
                }
                #expect(try segment.records(includeContents: true) == before)
                #expect(segment.status() == status)
                #expect(segment.check() == [])
                // Failing midway in the building phase (fragmentation) also rolls back.
                let blocker = Allocator(segment.header).allocate(free / 2)
                #expect(blocker != nil)
                #expect(throws: SegmentError.self) { try segment.apply([mapRecord(20, .array, max: half / 2 * 3)]) }
                if let blocker { Allocator(segment.header).free(blocker) }
                #expect(segment.status() == status)
                #expect(segment.check() == [])
            }
        }

        @Test func removeAndReplaceReuseSpace() throws {
            try withSegment(sizeMB: 2, maxHandlers: 64) { segment in
                let empty = segment.status().usedBytes
                try segment.apply(Self.state())
                let used = segment.status().usedBytes
                for _ in 0..<50 { try segment.apply(Self.state(), replaceExisting: true) }
                #expect(segment.status().usedBytes == used, "replaced handlers' blocks are freed and reused")
                #expect(try segment.records(includeContents: true) == Self.state(), "entries come back in the order they were imported")
                // Remove the handlers that refer to others first, then the rest, in one apply.
                try segment.apply([], removing: Self.state().map(\.fd))
                #expect(segment.status().usedBytes == empty)
                #expect(segment.status().handlerCount == 0)
                // Removing and re-adding an fd in one apply.
                try segment.apply([mapRecord(3, .array)])
                try segment.apply([mapRecord(3, .hash)], removing: [3])
                #expect(try segment.map(at: 3).kind == .hash)
                #expect(segment.check() == [])
            }
        }

        @Test func allocatorReusesAndMerges() throws {
            try withSegment(sizeMB: 2, maxHandlers: 16) { segment in
                let allocator = Allocator(segment.header)
                let free = allocator.freeBytes
                let blocks = (0..<100).compactMap { allocator.allocate(100 + $0) }
                #expect(blocks.count == 100)
                for b in blocks.enumerated() where b.offset % 2 == 0 { allocator.free(b.element) }
                let again = allocator.allocate(100)
                #expect(again.map { blocks.contains($0) } == true, "a freed block is reused")
                if let again { allocator.free(again) }
                for b in blocks.enumerated() where b.offset % 2 == 1 { allocator.free(b.element) }
                #expect(allocator.freeBytes == free)
                #expect(allocator.allocate(free) == nil)
                let all = allocator.allocate(free - Allocator.headerBytes)
                #expect(all != nil, "free blocks merged back into one")
                if let all { allocator.free(all) }
                #expect(segment.check() == [])
            }
        }
    }
}

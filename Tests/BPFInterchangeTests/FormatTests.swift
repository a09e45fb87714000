import Testing
import BPFModel
@testable import BPFInterchange

@Suite struct FormatTests {
    static let everyKind: [HandlerRecord] = [
        HandlerRecord(fd: 3, handler: .map(MapHandler(name: "m", attributes: MapAttributes(
            mapType: 1, keySize: 4, valueSize: 8, maxEntries: 10, flags: 1, ifindex: 2, btfVmlinuxValueTypeID: 3,
            btfID: 4, btfKeyTypeID: 5, btfValueTypeID: 6, mapExtra: 7, kernelBPFMapID: 8)))),
        HandlerRecord(fd: 4, handler: .program(ProgramHandler(
            name: "p", type: 2, bytecode: [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0],
            attachments: [.init(targetFD: 5, cookie: 0), .init(targetFD: 6, cookie: 0xdead_beef_0000_0001)]))),
        HandlerRecord(fd: 5, handler: .perfEvent(PerfEventHandler(
            event: .uretprobe(.init(moduleName: "/bin/x", offset: 1 << 40, pid: 42, refCtrOffset: 9)), enabled: true))),
        HandlerRecord(fd: 6, handler: .perfEvent(PerfEventHandler(event: .uprobeOverride(.init(moduleName: "/lib/y", offset: 16))))),
        HandlerRecord(fd: 7, handler: .perfEvent(PerfEventHandler(event: .tracepoint(pid: -1, tracepointID: 731)))),
        HandlerRecord(fd: 8, handler: .perfEvent(PerfEventHandler(
            event: .software(cpu: 3, config: -5, sampleType: 1024), enabled: true))),
        HandlerRecord(fd: 9, handler: .link(LinkHandler(programFD: 4, targetFD: 5))),
        HandlerRecord(fd: 10, handler: .link(LinkHandler(programFD: 4, targetFD: 6, attachType: 42, cookie: 77))),
        HandlerRecord(fd: 11, handler: .epoll),
        HandlerRecord(fd: 12, handler: .memfd(MemfdHandler(name: "buf", flags: 3))),
        HandlerRecord(fd: 13, handler: .perfEvent(PerfEventHandler(event: .uprobe(.init(moduleName: "", offset: 0))))),
    ]

    @Test func everyKindRoundTrips() throws {
        let written = BPFTimeJSON.encodeDocument(Self.everyKind, includeData: true)
        #expect(try BPFTimeJSON.decodeDocument(written) == Self.everyKind)
        for record in Self.everyKind {
            let single = BPFTimeJSON.encodeHandler(record.handler, includeData: true)
            #expect(try BPFTimeJSON.decodeHandler(fd: record.fd, single) == record.handler)
        }
    }

    /// nlohmann sorts the fd keys as strings, and every object's keys the same way.
    @Test func keysAreSortedBytewiseAtEveryLevel() throws {
        let written = text(BPFTimeJSON.encodeDocument(Self.everyKind, includeData: true))
        let topLevel = written.split(separator: "\n").filter { $0.hasPrefix("    \"") }.map { $0.split(separator: "\"")[1] }
        #expect(topLevel == ["10", "11", "12", "13", "3", "4", "5", "6", "7", "8", "9"])
        // Within each object (same indentation, same parent) keys ascend: check every run of siblings.
        var stack: [[Substring]] = [[]]
        for line in written.split(separator: "\n") {
            let trimmed = line.drop { $0 == " " }
            if trimmed.hasPrefix("\""), let colon = trimmed.range(of: "\": ") {
                let key = trimmed[trimmed.index(after: trimmed.startIndex)..<colon.lowerBound]
                if let last = stack[stack.count - 1].last {
                    #expect(Array(last.utf8).lexicographicallyPrecedes(Array(key.utf8)), "\(last) before \(key)")
                }
                stack[stack.count - 1].append(key)
            }
            if trimmed.hasSuffix("{") || trimmed.hasSuffix("[") { stack.append([]) }
            if trimmed.hasPrefix("}") || trimmed.hasPrefix("]") { stack.removeLast() }
        }
    }

    @Test func optionalAttrsAreWrittenOnlyWhenSet() throws {
        let prog = text(BPFTimeJSON.encodeHandler(Self.everyKind[1].handler, includeData: true))
        #expect(prog.contains("\"attach_cookies\": [\n            0,\n            16045690981097406465\n        ],"))
        #expect(prog.contains("\"attach_fds\": [\n            5,\n            6\n        ],"))
        let plain = ProgramHandler(name: "p", type: 0, bytecode: [UInt8](repeating: 0, count: 8),
                                   attachments: [.init(targetFD: 5)])
        #expect(!text(BPFTimeJSON.encodeHandler(.program(plain), includeData: true)).contains("attach_cookies"))
        let bare = text(BPFTimeJSON.encodeHandler(Self.everyKind[6].handler, includeData: true))
        #expect(bare == "{\n    \"attr\": {\n        \"prog_fd\": 4,\n        \"target_fd\": 5\n    },\n    \"type\": \"bpf_link_handler\"\n}")
        let full = text(BPFTimeJSON.encodeHandler(Self.everyKind[7].handler, includeData: true))
        #expect(full.contains("\"attach_type\": 42,\n        \"cookie\": 77,\n        \"prog_fd\": 4,"))
    }

    @Test func exactShapeOfSmallKinds() {
        #expect(text(BPFTimeJSON.encodeHandler(.epoll, includeData: true)) == "{\n    \"type\": \"epoll_handler\"\n}")
        #expect(text(BPFTimeJSON.encodeHandler(.memfd(MemfdHandler(name: "buf", flags: 3)), includeData: true))
                == "{\n    \"attr\": {\n        \"flags\": 3,\n        \"name\": \"buf\"\n    },\n    \"type\": \"memfd_handler\"\n}")
        let tracepoint = text(BPFTimeJSON.encodeHandler(Self.everyKind[4].handler, includeData: true))
        #expect(tracepoint == """
            {
                "attr": {
                    "data_type": "tracepoint_perf_event_data",
                    "pid": -1,
                    "tracepoint_id": 731,
                    "type": 2
                },
                "enabled": false,
                "type": "bpf_perf_event_handler"
            }
            """)
        let software = text(BPFTimeJSON.encodeHandler(Self.everyKind[5].handler, includeData: true))
        #expect(software.contains("\"config\": -5,\n        \"cpu\": 3,\n        \"data_type\": \"software_perf_event_shared_ptr\",\n        \"sample_type\": 1024,\n        \"type\": 1\n"))
    }

    @Test func emptyStateIsAnEmptyObjectAndNullReads() throws {
        #expect(text(BPFTimeJSON.encodeDocument([], includeData: true)) == "{}")
        #expect(try decode("{}").isEmpty)
        #expect(try decode(" null\n").isEmpty)
    }

    @Test func byteOrderMarkIsSkipped() throws {
        let doc = [0xef, 0xbb, 0xbf] + Array(#"{"2": {"type": "epoll_handler"}}"#.utf8)
        #expect(try BPFTimeJSON.decodeDocument(doc) == [HandlerRecord(fd: 2, handler: .epoll)])
        #expect(try BPFTimeJSON.decodeHandler(fd: 2, [0xef, 0xbb, 0xbf] + Array(#"{"type": "epoll_handler"}"#.utf8)) == .epoll)
    }

    @Test func namesAreEscapedLikeNlohmann() throws {
        let name = "a\"b\\c\n\t\r\u{8}\u{c}\u{1}\u{1f}/é😀\u{7f}"
        let handler = Handler.memfd(MemfdHandler(name: name))
        let written = text(BPFTimeJSON.encodeHandler(handler, includeData: true))
        #expect(written.contains(#""name": "a\"b\\c\n\t\r\b\f\u0001\u001f/é😀"# + "\u{7f}\""))
        #expect(try BPFTimeJSON.decodeHandler(fd: 1, Array(written.utf8)) == handler)
    }

    @Test func readsEscapesWrittenOtherWays() throws {
        let doc = #"{"1": {"type": "memfd_handler", "name": "\u0041\/\ud83d\ude00\u00e9"}}"#
        #expect(try decode(doc).handler(at: 1)?.name == "A/😀é")
    }

    @Test func handlersFormAsInBpftimeReadme() throws {
        let doc = """
            {"handlers": [
              {"fd": 4, "type": "bpf_prog_handler", "name": "p", "attr": {"type": 0, "cnt": 1, "insns": "9500000000000000", "attach_fds": [5]}},
              {"fd": 3, "type": "bpf_map_handler", "name": "m", "attr": {"map_type": 2, "key_size": 4, "value_size": 4, "max_entries": 1}},
              {"fd": 5, "type": "bpf_perf_event_handler", "attr": {"type": 2, "tracepoint_id": 12}, "enabled": true}
            ]}
            """
        let records = try decode(doc)
        #expect(records.map(\.fd) == [3, 4, 5])
        #expect(records.handler(at: 4)?.program?.attachments == [.init(targetFD: 5)])
        #expect(records.handler(at: 3)?.map?.attributes == MapAttributes(mapType: 2, keySize: 4, valueSize: 4, maxEntries: 1))
        #expect(records.handler(at: 5)?.perfEvent == PerfEventHandler(event: .tracepoint(pid: -1, tracepointID: 12), enabled: true))
    }

    @Test func missingOptionalFieldsTakeBpftimeDefaults() throws {
        let doc = """
            {"1": {"type": "bpf_perf_event_handler", "attr": {"type": 2}},
             "2": {"type": "bpf_prog_handler", "attr": {"insns": ""}},
             "3": {"type": "bpf_perf_event_handler", "attr": {"type": 6, "_module_name": "m", "offset": 8}},
             "4": {"type": "memfd_handler"},
             "5": {"type": "bpf_perf_event_handler", "attr": {"type": 1}}}
            """
        let records = try decode(doc)
        #expect(records.handler(at: 1)?.perfEvent == PerfEventHandler(event: .tracepoint(pid: -1, tracepointID: -1), enabled: false))
        #expect(records.handler(at: 2)?.program == ProgramHandler(name: "", type: 0, bytecode: []))
        #expect(records.handler(at: 3)?.perfEvent?.event == .uprobe(.init(moduleName: "m", offset: 8, pid: -1, refCtrOffset: 0)))
        #expect(records.handler(at: 4) == .memfd(MemfdHandler(name: "", flags: 0)))
        #expect(records.handler(at: 5)?.perfEvent?.event == .software(cpu: 0, config: 0, sampleType: 0))
    }

    @Test func unknownFieldsAreIgnored() throws {
        let doc = #"{"1": {"type": "epoll_handler", "extra": [1, {"x": null}], "attr": {"whatever": true}}, "2": {"type": "bpf_link_handler", "attr": {"prog_fd": 1, "target_fd": 1, "future": 1.5e3}}}"#
        let records = try decode(doc)
        #expect(records.handler(at: 1) == .epoll)
        #expect(records.handler(at: 2)?.link == LinkHandler(programFD: 1, targetFD: 1))
    }

    @Test func extremeIntegersRoundTrip() throws {
        let map = MapHandler(name: "x", attributes: MapAttributes(mapType: .max, keySize: .max, valueSize: 1, maxEntries: 0,
                                                                   flags: .max, mapExtra: .max, kernelBPFMapID: .max))
        let event = PerfEventHandler(event: .software(cpu: .min, config: .min, sampleType: .max))
        let records = [HandlerRecord(fd: 0, handler: .perfEvent(event)), HandlerRecord(fd: Int(Int32.max), handler: .map(map))]
        let written = BPFTimeJSON.encodeDocument(records, includeData: true)
        #expect(text(written).contains("\"flags\": 18446744073709551615,"))
        #expect(text(written).contains("\"config\": -9223372036854775808,"))
        #expect(try BPFTimeJSON.decodeDocument(written) == records)
    }
}

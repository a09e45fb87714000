import Testing
import BPFModel
@testable import BPFSegment

/// The numbers a segment stores are its layout: these pin them, so that reordering an enum or
/// adding a case cannot silently change what an existing segment means.
@Suite struct StoredCodeTests {
    @Test func handlerKindCodesAreFixed() {
        let expected: [HandlerKind: UInt32] = [.program: 1, .map: 2, .perfEvent: 3, .link: 4, .epoll: 5, .memfd: 6]
        #expect(expected.count == HandlerKind.allCases.count, "every kind has a pinned code")
        for (kind, code) in expected {
            #expect(HandlerCodec.code(kind) == code, "\(kind)")
            #expect(HandlerCodec.kind(code: code) == kind, "\(code)")
        }
        #expect(HandlerCodec.kind(code: 0) == nil)
        #expect(HandlerCodec.kind(code: 7) == nil)
    }

    @Test func perfEventTypeCodesAreFixed() {
        let target = PerfEventHandler.UprobeTarget(moduleName: "", offset: 0)
        let events: [(PerfEventHandler.Event, UInt8)] = [
            (.uprobe(target), 0), (.uretprobe(target), 1), (.uprobeOverride(target), 2),
            (.tracepoint(pid: -1, tracepointID: 1), 3), (.software(cpu: 0, config: 0, sampleType: 0), 4),
        ]
        for (event, code) in events {
            let bytes = HandlerCodec.encode(.perfEvent(PerfEventHandler(event: event, enabled: true)))
            #expect(bytes[0] == 1, "enabled flag first")
            #expect(bytes[1] == code, "\(event)")
        }
    }
}

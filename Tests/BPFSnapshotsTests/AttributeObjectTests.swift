import BPFModel
@testable import BPFSnapshots
import Foundation
import GRDB
import Testing

/// Stored attribute texts are read back without `JSONDecoder`: every value the encoder writes
/// reads back exactly, and text that is not such JSON is a clear error, never a trap.
@Suite struct AttributeObjectTests {
    @Test func escapedNamesAndExtremeNumbersRoundTrip() throws {
        let names = ["/lib/\"quoted\" \\ back/slash", "tab\tnew\nline\u{1}ctl", "naïve/路径/😀", ""]
        var records = names.enumerated().map { i, name in
            HandlerRecord(fd: 3 + i, handler: .perfEvent(PerfEventHandler(
                event: .uprobe(.init(moduleName: name, offset: .max, pid: .min, refCtrOffset: 0)), enabled: i % 2 == 0)))
        }
        records.append(HandlerRecord(fd: 10, handler: .perfEvent(PerfEventHandler(event: .opaque(type: -7, target: nil)))))
        records.append(HandlerRecord(fd: 11, handler: .perfEvent(PerfEventHandler(event: .software(cpu: .max, config: .min, sampleType: -1)))))
        records.append(HandlerRecord(fd: 12, handler: .program(ProgramHandler(
            name: "p", type: .min, bytecode: Fixtures.program([0x95]), attachments: [.init(targetFD: 3, cookie: .max)]))))
        records.append(HandlerRecord(fd: 13, handler: .link(LinkHandler(programFD: 12, targetFD: 3, attachType: .max, cookie: 0))))
        for record in records + Fixtures.everyKind() {
            let text = StoredAttributes.encode(record.handler)
            var handler = record.handler
            if case .map(var m) = handler { m.contents = nil; handler = .map(m) }
            let decoded = try StoredAttributes.decode(kind: handler.kind, name: handler.name, attributes: text,
                                                      bytecode: handler.programBytecode, aotImage: nil, contents: nil)
            #expect(decoded == handler, "\(text)")
        }
    }

    @Test func textThatIsNotStoredJSONIsRefused() throws {
        let good = #"{"flags":1}"#
        #expect(try StoredAttributes.decode(kind: .memfd, name: "m", attributes: good, bytecode: nil, aotImage: nil, contents: nil)
            == .memfd(MemfdHandler(name: "m", flags: 1)))
        let bad = ["", "{", "[]", #"{"flags":1.5}"#, #"{"flags":1e3}"#, #"{"flags":-1}"#, #"{"flags":4294967296}"#,
                   #"{"flags":"1"}"#, #"{"flags":1} x"#, #"{"flags":1,}"#, #"{flags:1}"#, #"{"flags":99999999999999999999999}"#,
                   #"{"x":"\ud800","flags":1}"#, #"{"x":"\q","flags":1}"#, "{\"x\":\"a\u{1}\",\"flags\":1}",
                   #"{"flags":tru}"#, String(repeating: "[", count: 100_000), #"{"other":1}"#]
        for text in bad {
            #expect(throws: DecodingError.self, "\(text.prefix(40))") {
                _ = try StoredAttributes.decode(kind: .memfd, name: "m", attributes: text, bytecode: nil, aotImage: nil, contents: nil)
            }
        }
    }

    @Test func unreadableAttributesInTheHistoryAreReportedByFD() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.db")
        let store = try SnapshotStore(path: path)
        let id = try store.save(Fixtures.everyKind(), meta: Fixtures.meta)
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: #"""
                UPDATE handler_states SET attributes = '{"flags":"x"}' WHERE id = (SELECT state FROM snapshot_handlers WHERE fd = 15)
                """#)
            #expect(db.changesCount == 1)
        }
        #expect {
            _ = try SnapshotStore(path: path).records(of: id)
        } throws: { error in
            "\(error)".contains("fd 15 has unreadable attributes")
        }
    }
}

private extension Handler {
    var programBytecode: [UInt8]? {
        if case .program(let p) = self { return p.bytecode }
        return nil
    }
}

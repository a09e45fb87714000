import Foundation
import Testing
import TestSupport
import BPFModel
@testable import BPFInterchange

/// bpftime's JSON fixtures in `../shared/fixtures/bpftime`.
enum Fixtures {
    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: SharedFiles.url("fixtures/bpftime/\(name)")))
    }
}

func decode(_ text: String) throws -> [HandlerRecord] {
    try BPFTimeJSON.decodeDocument(Array(text.utf8))
}

func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// The error a document gives; fails the test if it decodes.
func decodeError(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> InterchangeError? {
    do {
        let records = try decode(text)
        Issue.record("decoded \(records.count) records instead of failing", sourceLocation: sourceLocation)
        return nil
    } catch let error as InterchangeError {
        return error
    } catch {
        Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

extension Array where Element == HandlerRecord {
    func handler(at fd: Int) -> Handler? { first { $0.fd == fd }?.handler }
}

extension Handler {
    var program: ProgramHandler? { if case .program(let p) = self { p } else { nil } }
    var map: MapHandler? { if case .map(let m) = self { m } else { nil } }
    var perfEvent: PerfEventHandler? { if case .perfEvent(let e) = self { e } else { nil } }
    var link: LinkHandler? { if case .link(let l) = self { l } else { nil } }
}

/// A map handler document with `data` given as JSON text.
func mapDocument(type: Int, keySize: Int, valueSize: Int, maxEntries: Int = 16, data: String) -> String {
    """
    {"7": {"type": "bpf_map_handler", "name": "m", "attr": {"map_type": \(type), "key_size": \(keySize),
     "value_size": \(valueSize), "max_entries": \(maxEntries)}, "data": \(data)}}
    """
}

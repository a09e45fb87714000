import Foundation
import TestSupport
import Testing
@testable import BPFVM

struct ConformanceCase: Decodable {
    let name: String
    let insns_hex: String
    let mem_hex: String
    let result: UInt64?
    let error: String?
}

func loadCases(_ relativePath: String) throws -> [ConformanceCase] {
    let text = try String(contentsOf: SharedFiles.url(relativePath), encoding: .utf8)
    return try text.split(separator: "\n").map { try JSONDecoder().decode(ConformanceCase.self, from: Data($0.utf8)) }
}

/// Runs one case; `nil` when it passes, else what went wrong.
func mismatch(_ c: ConformanceCase) -> String? {
    do {
        let program = try Program(bytecode: bytes(hex: c.insns_hex))
        let vm = try VirtualMachine(program: program, options: VMOptions(helpers: conformanceHelpers()))
        var memory = bytes(hex: c.mem_hex)
        let r0 = try memory.withUnsafeMutableBytes { try vm.run(input: $0) }
        if let expected = c.result, r0 != expected { return "\(c.name): r0 = 0x\(String(r0, radix: 16)), expected 0x\(String(expected, radix: 16))" }
        if c.error != nil { return "\(c.name): ran to r0 = \(r0), expected error \(c.error!)" }
        return nil
    } catch {
        return c.error == nil ? "\(c.name): \(error)" : nil
    }
}

@Suite struct ConformanceTests {
    /// Every line of the suite, no skips.
    @Test func wholeSuitePasses() throws {
        let cases = try loadCases("conformance/conformance.jsonl")
        #expect(cases.count == 313)
        let failures = cases.compactMap(mismatch)
        print("conformance: \(cases.count - failures.count)/\(cases.count) passed")
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }
}

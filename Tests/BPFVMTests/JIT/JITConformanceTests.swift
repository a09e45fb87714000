import Testing
@testable import BPFVM

@Suite struct JITConformanceTests {
    /// Every line of the conformance suite on the JIT: the expected r0, and the interpreter's
    /// r0, memory and stack.
    @Test func wholeSuiteMatchesTheInterpreter() throws {
        let cases = try loadCases("conformance/conformance.jsonl")
        #expect(cases.count == 313)
        var agreed = 0
        for c in cases {
            let program = try Program(bytecode: bytes(hex: c.insns_hex))
            let runs = try differential(program, memory: bytes(hex: c.mem_hex), options: VMOptions(helpers: conformanceHelpers()))
            #expect(runs.jit == runs.interpreter, "\(c.name): JIT \(runs.jit) vs interpreter \(runs.interpreter)")
            #expect(runs.jit.r0 == c.result, "\(c.name): JIT \(runs.jit), expected \(c.result.map { String($0, radix: 16) } ?? "error")")
            if runs.jit == runs.interpreter && runs.jit.r0 == c.result { agreed += 1 }
        }
        print("JIT conformance: \(agreed)/\(cases.count) agree with the interpreter and the expected r0")
    }
}

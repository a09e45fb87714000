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
            let options = VMOptions(helpers: conformanceHelpers())
            let memory = bytes(hex: c.mem_hex)
            let jit = outcome(program, on: .jit, memory: memory, options: options)
            let interpreter = outcome(program, on: .interpreter, memory: memory, options: options)
            #expect(jit == interpreter, "\(c.name): JIT \(jit) vs interpreter \(interpreter)")
            #expect(jit.r0 == c.result, "\(c.name): JIT \(jit), expected \(c.result.map { String($0, radix: 16) } ?? "error")")
            if jit == interpreter && jit.r0 == c.result { agreed += 1 }
        }
        print("JIT conformance: \(agreed)/\(cases.count) agree with the interpreter and the expected r0")
    }
}

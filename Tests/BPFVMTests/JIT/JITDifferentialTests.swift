import Testing
import TestSupport
@testable import BPFVM

/// Random valid programs on the interpreter and the JIT: identical r0 or error, input memory,
/// stack and (with a budget) executed-instruction count. Seeds are fixed, so failures reproduce.
@Suite struct JITDifferentialTests {
    static let programsPerRun = 2500

    func check(seed: UInt64, loops: Bool, count: Int) throws {
        var generator = RandomProgramGenerator(seed: seed, loops: loops)
        let options = VMOptions(maxInstructions: loops ? 5000 : nil, helpers: conformanceHelpers())
        var errors: [String: Int] = [:]
        var mismatches = 0
        for n in 0 ..< count {
            let (program, memory) = generator.next()
            let runs = try differential(program, memory: memory, options: options)
            if runs.jit != runs.interpreter {
                mismatches += 1
                if mismatches <= 5 {
                    let listing = program.instructions.indices.map { "\($0): \(Disassembler.text(of: program, at: $0))" }
                    Issue.record("seed \(seed) program \(n): JIT \(runs.jit)\ninterpreter \(runs.interpreter)\n\(listing.joined(separator: "\n"))")
                }
            }
            if let error = runs.interpreter.error {
                errors[String("\(error)".split(separator: ":").last ?? "").split(separator: " ").prefix(3).joined(separator: " "), default: 0] += 1
            }
        }
        #expect(mismatches == 0)
        let failed = errors.values.reduce(0, +)
        print("JIT differential (seed \(seed), loops \(loops)): \(count - mismatches)/\(count) identical; "
              + "\(count - failed) ran to exit, \(failed) ended with errors \(errors.sorted { $0.value > $1.value }.prefix(6))")
        // The generator must exercise both completed runs and faults.
        #expect(failed > count / 50 && failed < count * 3 / 4)
    }

    @Test func forwardJumpPrograms() throws {
        try check(seed: 0x5eed_0001, loops: false, count: Self.programsPerRun)
    }

    @Test func programsWithLoopsUnderABudget() throws {
        try check(seed: 0x5eed_0002, loops: true, count: Self.programsPerRun / 2)
    }

    /// The interpreter suite's wild programs (random registers, offsets and immediates, loops
    /// under a budget): every accepted one ends identically on both engines.
    @Test func wildProgramsFromTheInterpreterSuite() throws {
        var rng = SplitMix64(seed: 0x5eed_0003)
        let generator = RandomProgramTests()
        let options = VMOptions(maxInstructions: 2000, helpers: conformanceHelpers())
        var accepted = 0, identical = 0
        for _ in 0 ..< 2 * Self.programsPerRun {
            let length = Int.random(in: 1 ... 24, using: &rng)
            var ins: [Instruction] = []
            while ins.count < length { ins += generator.randomInstruction(&rng, count: length) }
            ins.append(Instruction(opcode: 0x95))
            let memory = (0 ..< 64).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }
            guard let runs = try? differential(Program(instructions: ins), memory: memory, options: options) else { continue }
            accepted += 1
            if runs.jit == runs.interpreter { identical += 1 }
            #expect(runs.jit == runs.interpreter, "JIT \(runs.jit)\ninterpreter \(runs.interpreter)")
        }
        print("JIT differential (wild programs): \(identical)/\(accepted) accepted programs identical")
        #expect(accepted > Self.programsPerRun / 10)
    }
}

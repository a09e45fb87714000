import Testing
import TestSupport
@testable import BPFVM
import TestSupport

/// Loops whose pointer the JIT checks once at entry (`VersionedLoop`): which loops qualify, and
/// programs aimed at the optimisation that must still end exactly as on the interpreter.
@Suite struct JITLoopVersioningTests {
    /// r3 walks the input 8 bytes at a time up to r4 = r1 + r2, summing into r0.
    static let sum = "mov %r0, 0\nmov %r3, %r1\nmov %r4, %r1\nadd %r4, %r2\n"
        + "ldxdw %r5, [%r3+0]\nadd %r0, %r5\nadd %r3, 8\njne %r3, %r4, -4\nexit"

    struct Case: CustomStringConvertible, Sendable {
        let name: String
        let text: String
        var memory: [UInt8] = Array(0..<64)
        /// Whether the JIT versions the loop (checks its pointer once at entry).
        var versioned: Bool
        var kind: VMError.Kind?
        var maxInstructions: UInt64?
        /// Options made for each run: a `VMOptions` holds a helper table, which runs do not share.
        var options: VMOptions { VMOptions(maxInstructions: maxInstructions) }
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "sum of the input's words", text: sum, versioned: true),
        Case(name: "sum with the bound one word past the input",
             text: sum.replacingOccurrences(of: "add %r4, %r2\n", with: "add %r4, %r2\nadd %r4, 8\n"), versioned: true, kind: .memoryViolation),
        Case(name: "sum with the bound short of a whole stride (the pointer never meets it)",
             text: sum.replacingOccurrences(of: "add %r4, %r2\n", with: "add %r4, 60\n"), versioned: true, kind: .memoryViolation),
        Case(name: "sum starting at the bound (the body runs once, at the end)",
             text: sum.replacingOccurrences(of: "mov %r3, %r1\n", with: "mov %r3, %r1\nadd %r3, %r2\n"), versioned: true, kind: .memoryViolation),
        Case(name: "sum with the bound below the start",
             text: sum.replacingOccurrences(of: "add %r4, %r2\n", with: "add %r4, -8\n"), versioned: true, kind: .memoryViolation),
        Case(name: "sum whose bound is changed inside the loop",
             text: sum.replacingOccurrences(of: "add %r3, 8\n", with: "add %r3, 8\nadd %r4, 8\n").replacingOccurrences(of: "-4", with: "-5"),
             versioned: false, kind: .memoryViolation),
        Case(name: "sum whose bound is reloaded from memory inside the loop",
             text: "mov %r0, 0\nmov %r3, %r1\nmov %r4, %r1\nadd %r4, 64\nstxdw [%r1+56], %r4\n"
                 + "ldxdw %r5, [%r3+0]\nadd %r0, %r5\nldxdw %r4, [%r1+56]\nadd %r3, 8\njne %r3, %r4, -5\nexit",
             versioned: false),
        Case(name: "sum whose pointer is also moved by a load",
             text: sum.replacingOccurrences(of: "add %r0, %r5\n", with: "ldxdw %r3, [%r3+0]\n"), versioned: false, kind: .memoryViolation),
        Case(name: "sum whose pointer moves only when a condition holds",
             text: sum.replacingOccurrences(of: "add %r3, 8\n", with: "jeq %r5, 0, +1\nadd %r3, 8\n").replacingOccurrences(of: "-4", with: "-5"),
             memory: [UInt8](repeating: 1, count: 64), versioned: false),
        Case(name: "loop entered from the middle, past its entry check",
             text: "mov %r0, 0\nmov %r3, %r1\nadd %r3, %r2\nmov %r4, %r1\nadd %r4, %r2\nadd %r4, 64\nja +1\n"
                 + "ldxdw %r5, [%r3+0]\nadd %r3, 8\nldxdw %r5, [%r3+0]\nadd %r0, %r5\njne %r3, %r4, -5\nexit",
             versioned: false, kind: .memoryViolation),
        Case(name: "a load after the increment reads past the end on the last iteration",
             text: sum.replacingOccurrences(of: "ldxdw %r5, [%r3+0]\nadd %r0, %r5\nadd %r3, 8\n", with: "add %r0, %r5\nadd %r3, 8\nldxdw %r5, [%r3+0]\n"),
             versioned: true, kind: .memoryViolation),
        Case(name: "a load at a negative offset reads below the start",
             text: sum.replacingOccurrences(of: "[%r3+0]", with: "[%r3-8]"), versioned: true, kind: .memoryViolation),
        Case(name: "bytes up to the input's last",
             text: "mov %r0, 0\nmov %r3, %r1\nmov %r4, %r1\nadd %r4, %r2\nldxb %r5, [%r3+0]\nxor %r0, %r5\nlsh %r0, 1\n"
                 + "add %r3, 1\njne %r3, %r4, -5\nexit", versioned: true),
        Case(name: "bytes one past the input's last",
             text: "mov %r0, 0\nmov %r3, %r1\nmov %r4, %r1\nadd %r4, %r2\nadd %r4, 1\nldxb %r5, [%r3+0]\nxor %r0, %r5\n"
                 + "add %r3, 1\njne %r3, %r4, -4\nexit", versioned: true, kind: .memoryViolation),
        Case(name: "stores through the pointer fill the input",
             text: "mov %r3, %r1\nmov %r4, %r1\nadd %r4, %r2\nstdw [%r3+0], 7\nstxb [%r3+7], %r3\nadd %r3, 8\njne %r3, %r4, -4\n"
                 + "ldxdw %r0, [%r1+16]\nexit", versioned: true),
        Case(name: "pointer in the input, bound in the stack",
             text: "mov %r0, 0\nmov %r3, %r1\nmov %r4, %r10\nldxdw %r5, [%r3+0]\nadd %r0, %r5\nadd %r3, 8\njne %r3, %r4, -4\nexit",
             versioned: true, kind: .memoryViolation),
        Case(name: "pointer in the stack, bound in the input",
             text: "mov %r0, 0\nmov %r3, %r10\nadd %r3, -64\nmov %r4, %r1\nstxdw [%r3+0], %r0\nadd %r3, 8\njne %r3, %r4, -3\nexit",
             versioned: true, kind: .memoryViolation),
        Case(name: "pointer walking the stack (the checked copy, in bounds)",
             text: "mov %r3, %r10\nadd %r3, -64\nmov %r4, %r10\nstdw [%r3+0], 5\nadd %r3, 8\njne %r3, %r4, -3\n"
                 + "ldxdw %r0, [%r10-8]\nexit", versioned: true),
        Case(name: "pointer walking the stack when the stack is the inline-checked region",
             text: "mov %r3, %r10\nadd %r3, -64\nmov %r4, %r10\nstdw [%r3+0], 5\nadd %r3, 8\njne %r3, %r4, -3\n"
                 + "ldxdw %r0, [%r10-8]\nexit", memory: [1, 2, 3], versioned: true),
        Case(name: "pointer walking from the stack to below it",
             text: "mov %r3, %r10\nadd %r3, -64\nmov %r4, %r10\nstdw [%r3-512], 5\nadd %r3, 8\njne %r3, %r4, -3\n"
                 + "mov %r0, 0\nexit", memory: [1, 2, 3], versioned: true, kind: .memoryViolation),
        Case(name: "a second pointer beside the checked one keeps its own check",
             text: "mov %r0, 0\nmov %r3, %r1\nmov %r6, %r1\nadd %r6, 40\nmov %r4, %r1\nadd %r4, %r2\n"
                 + "ldxdw %r5, [%r3+0]\nldxdw %r7, [%r6+0]\nadd %r0, %r7\nadd %r6, 8\nadd %r3, 8\njne %r3, %r4, -6\nexit",
             versioned: true, kind: .memoryViolation),
        // An outer loop re-enters the versioned loop at its header: the entry check must be made
        // again on each pass, against the bound as it is then.
        Case(name: "outer loop moves the bound one word past the input before its second pass",
             text: "mov %r0, 0\nmov %r6, 2\nmov %r4, %r1\nadd %r4, %r2\nmov %r3, %r1\n"
                 + "ldxdw %r5, [%r3+0]\nadd %r0, %r5\nadd %r3, 8\njne %r3, %r4, -4\nadd %r4, 8\nsub %r6, 1\njne %r6, 0, -8\nexit",
             versioned: true, kind: .memoryViolation),
        Case(name: "a jump from after the loop restarts the pointer below the input at the header",
             text: "mov %r0, 0\nmov %r6, 2\nmov %r3, %r1\nmov %r4, %r1\nadd %r4, %r2\n"
                 + "ldxdw %r5, [%r3+0]\nadd %r0, %r5\nadd %r3, 8\njne %r3, %r4, -4\nmov %r3, %r1\nadd %r3, -8\n"
                 + "sub %r6, 1\njne %r6, 0, -8\nexit",
             versioned: true, kind: .memoryViolation),
        // Two registers naming one address: the alias keeps its own check.
        Case(name: "stores through an alias of the pointer taken before the loop",
             text: "mov %r3, %r1\nmov %r6, %r1\nmov %r4, %r1\nadd %r4, %r2\n"
                 + "stxdw [%r6+0], %r5\nldxdw %r5, [%r3+0]\nadd %r3, 8\njne %r3, %r4, -4\nldxdw %r0, [%r1+0]\nexit",
             versioned: true),
        Case(name: "loop entered from the middle by a jump from after it",
             text: "mov %r0, 0\nmov %r6, 0\nmov %r3, %r1\nmov %r4, %r1\nadd %r4, %r2\n"
                 + "ldxdw %r5, [%r3+0]\nadd %r0, %r5\nadd %r3, 8\njne %r3, %r4, -4\n"
                 + "jne %r6, 0, +4\nmov %r6, 1\nmov %r3, %r1\nadd %r3, 64\nja -8\nexit",
             versioned: false, kind: .memoryViolation),
        Case(name: "budget runs out inside a versioned loop", text: sum, versioned: true, kind: .budgetExceeded,
             maxInstructions: 30),
    ]

    @Test(arguments: cases)
    func endsLikeTheInterpreter(_ c: Case) throws {
        let program = try TestAssembler.program(c.text)
        let runs = try differential(program, memory: c.memory, options: c.options)
        #expect(runs.jit == runs.interpreter, "JIT \(runs.jit)\ninterpreter \(runs.interpreter)")
        #expect(runs.jit.kind == c.kind, "\(runs.jit)")
        let loops = try Self.versionedLoops(program, options: c.options)
        #expect(loops.isEmpty != c.versioned, "versioned loops: \(loops)")
    }

    /// Seeded random pointer walks near the edges of the input and the stack: random start, bound,
    /// stride, access offsets and sizes (loads and stores, before and after the increment), with
    /// and without a budget. Most qualify for versioning; every one must end exactly as on the
    /// interpreter.
    @Test func randomPointerWalksEndLikeTheInterpreter() throws {
        var rng = SplitMix64(seed: 0x5eed_1004)
        var versioned = 0
        for _ in 0..<400 {
            let stride = [1, 2, 4, 8, 16].randomElement(using: &rng)!
            var body: [String] = []
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let size = ["b", "h", "w", "dw"].randomElement(using: &rng)!
                let offset = Int.random(in: -9...9, using: &rng)
                let sign = offset < 0 ? "-" : "+"
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: body += ["ldx\(size) %r5, [%r3\(sign)\(abs(offset))]", "add %r0, %r5"]
                case 1: body.append("stx\(size) [%r3\(sign)\(abs(offset))], %r0")
                default: body.append("st\(size) [%r3\(sign)\(abs(offset))], 3")
                }
            }
            body.insert("add %r3, \(stride)", at: Int.random(in: 0...body.count, using: &rng))
            let inStack = Int.random(in: 0..<4, using: &rng) == 0
            let start = inStack ? "mov %r3, %r10\nadd %r3, \(Int.random(in: -80 ... -40, using: &rng))"
                : "mov %r3, %r1\nadd %r3, \(Int.random(in: -9...9, using: &rng))"
            let bound = inStack ? "mov %r4, %r10\nadd %r4, \(Int.random(in: -24...8, using: &rng))"
                : "mov %r4, %r1\nadd %r4, %r2\nadd %r4, \(Int.random(in: -12...12, using: &rng))"
            let text = "mov %r0, 1\n\(start)\n\(bound)\n" + body.joined(separator: "\n")
                + "\njne %r3, %r4, -\(body.count + 1)\nexit"
            let memory = (0..<[3, 8, 40, 64].randomElement(using: &rng)!).map { UInt8(truncatingIfNeeded: $0 &* 37) }
            let program = try TestAssembler.program(text)
            // Every walk ends: the pointer only grows, and each access through it is checked.
            let options = Bool.random(using: &rng) ? VMOptions() : VMOptions(maxInstructions: 5_000)
            let runs = try differential(program, memory: memory, options: options)
            #expect(runs.jit == runs.interpreter, "\(text)\nJIT \(runs.jit)\ninterpreter \(runs.interpreter)")
            if try !Self.versionedLoops(program, options: options).isEmpty { versioned += 1 }
        }
        #expect(versioned > 300, "only \(versioned) of the random loops were versioned")
    }

    /// The shipped benchmarks' inner loops qualify (their speed depends on it).
    @Test func theBenchmarkLoopsQualify() throws {
        let fnv = "lddw %r0, 0xcbf29ce484222325\nlddw %r7, 0x100000001b3\nmov %r8, 0\nmov %r6, 250\nmov %r3, %r1\nmov %r4, %r1\n"
            + "add %r4, %r2\nldxb %r5, [%r3+0]\nxor %r0, %r5\nmul %r0, %r7\njlt %r5, 128, +1\nadd %r8, 1\nadd %r3, 1\n"
            + "jne %r3, %r4, -7\nsub %r6, 1\njne %r6, 0, -12\nxor %r0, %r8\nexit"
        for text in [Self.sum, fnv] {
            #expect(try Self.versionedLoops(try TestAssembler.program(text)).count == 1)
        }
    }

    static func versionedLoops(_ program: Program, options: VMOptions = VMOptions()) throws -> [Int: VersionedLoop] {
        let machine = try VirtualMachine(program: program, options: options)
        var compiler = JITCompiler(code: machine.entry.code, maxCallDepth: options.maxCallDepth,
                                   countsInstructions: options.maxInstructions != nil)
        compiler.analyseControlFlow()
        return compiler.loops
    }
}

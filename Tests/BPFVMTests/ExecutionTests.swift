import Testing
@testable import BPFVM

/// r0 after running `body` (which must set r0) followed by `exit`.
func r0(_ body: String, memory: [UInt8] = []) throws -> UInt64 {
    try execute(body + "\nexit", memory: memory).r0
}

@Suite struct ALUTests {
    @Test(arguments: [
        // 64-bit, immediate and register
        ("mov %r0, 5\nadd %r0, -7", UInt64(bitPattern: -2)),
        ("mov %r0, 5\nmov %r1, 7\nsub %r0, %r1", UInt64(bitPattern: -2)),
        ("lddw %r0, 0x100000000\nmul %r0, 3", 0x3_0000_0000),
        ("mov %r0, -1\nmov %r1, 3\ndiv %r0, %r1", UInt64.max / 3),
        ("mov %r0, 7\ndiv %r0, -1", 0),                                  // imm sign-extended, unsigned
        ("mov %r0, 7\nmov %r1, 0\ndiv %r0, %r1", 0),                      // x / 0 = 0
        ("mov %r0, 7\nmov %r1, 0\nmod %r0, %r1", 7),                      // x % 0 = x
        ("mov %r0, 17\nmod %r0, 5", 2),
        ("mov %r0, 0xf0\nor %r0, 0x0f", 0xff),
        ("mov %r0, 0xff\nand %r0, 0x0f", 0x0f),
        ("mov %r0, 0xff\nxor %r0, 0x0f", 0xf0),
        ("mov %r0, 1\nlsh %r0, 63", 1 << 63),
        ("mov %r0, 1\nmov %r1, 65\nlsh %r0, %r1", 2),                     // shift amounts masked to 63
        ("mov %r0, -16\nrsh %r0, 60", 0xf),
        ("mov %r0, -16\narsh %r0, 2", UInt64(bitPattern: -4)),
        ("mov %r0, -16\nmov %r1, 66\narsh %r0, %r1", UInt64(bitPattern: -4)),
        ("mov %r0, 5\nneg %r0", UInt64(bitPattern: -5)),
        ("mov %r1, -9\nmov %r0, %r1", UInt64(bitPattern: -9)),
        // signed division (v4)
        ("mov %r0, -7\nsdiv %r0, 2", UInt64(bitPattern: -3)),
        ("mov %r0, -7\nsmod %r0, 2", UInt64(bitPattern: -1)),
        ("mov %r0, 7\nsmod %r0, -2", 1),
        ("lddw %r0, 0x8000000000000000\nsdiv %r0, -1", 0x8000_0000_0000_0000),
        ("lddw %r0, 0x8000000000000000\nsmod %r0, -1", 0),
        ("mov %r0, -7\nmov %r1, 0\nsdiv %r0, %r1", 0),
        ("mov %r0, -7\nmov %r1, 0\nsmod %r0, %r1", UInt64(bitPattern: -7)),
        // 32-bit: low halves, zero-extended results
        ("mov %r0, -1\nadd32 %r0, 1", 0),
        ("lddw %r0, 0x1ffffffff\nmov32 %r0, %r0", 0xffff_ffff),
        ("mov32 %r0, -1", 0xffff_ffff),
        ("mov %r0, 3\nsub32 %r0, 5", 0xffff_fffe),
        ("mov32 %r0, 0x10000\nmul32 %r0, 0x10000", 0),
        ("lddw %r0, 0x100000009\ndiv32 %r0, 2", 4),
        ("lddw %r0, 0x100000009\nmov %r1, 0\ndiv32 %r0, %r1", 0),
        ("lddw %r0, 0x100000009\nmov %r1, 0\nmod32 %r0, %r1", 9),          // unchanged, zero-extended
        ("lddw %r0, 0x100000009\nmod32 %r0, 4", 1),
        ("mov32 %r0, 1\nlsh32 %r0, 33", 2),                                 // masked to 31
        ("mov32 %r0, -16\nrsh32 %r0, 28", 0xf),
        ("mov32 %r0, -16\narsh32 %r0, 2", 0xffff_fffc),
        ("mov %r0, 5\nneg32 %r0", 0xffff_fffb),
        ("mov32 %r0, 0xf0\nor32 %r0, 0x0f", 0xff),
        ("mov %r0, -1\nand32 %r0, -1", 0xffff_ffff),
        ("mov %r0, -1\nxor32 %r0, 1", 0xffff_fffe),
        ("mov32 %r0, -7\nsdiv32 %r0, 2", 0xffff_fffd),
        ("mov32 %r0, -7\nsmod32 %r0, 2", 0xffff_ffff),
        ("mov32 %r0, 0x80000000\nsdiv32 %r0, -1", 0x8000_0000),
        ("mov32 %r0, 0x80000000\nsmod32 %r0, -1", 0),
        ("mov %r0, -7\nmov %r1, 0\nsmod32 %r0, %r1", 0xffff_fff9),
        // sign extension (v4)
        ("mov %r1, 0x80\nmovsx864 %r0, %r1", UInt64(bitPattern: -128)),
        ("mov %r1, 0x80\nmovsx832 %r0, %r1", 0xffff_ff80),
        ("mov %r1, 0x8000\nmovsx1664 %r0, %r1", UInt64(bitPattern: -32768)),
        ("mov %r1, 0x8000\nmovsx1632 %r0, %r1", 0xffff_8000),
        ("mov32 %r1, 0x80000000\nmovsx3264 %r0, %r1", 0xffff_ffff_8000_0000),
        // byte order
        ("lddw %r0, 0x1122334455667788\nbe16 %r0", 0x8877),
        ("lddw %r0, 0x1122334455667788\nbe32 %r0", 0x8877_6655),
        ("lddw %r0, 0x1122334455667788\nbe64 %r0", 0x8877_6655_4433_2211),
        ("lddw %r0, 0x1122334455667788\nle16 %r0", 0x7788),
        ("lddw %r0, 0x1122334455667788\nle32 %r0", 0x5566_7788),
        ("lddw %r0, 0x1122334455667788\nle64 %r0", 0x1122_3344_5566_7788),
        ("lddw %r0, 0x1122334455667788\nbswap16 %r0", 0x8877),
        ("lddw %r0, 0x1122334455667788\nbswap32 %r0", 0x8877_6655),
        ("lddw %r0, 0x1122334455667788\nbswap64 %r0", 0x8877_6655_4433_2211),
    ] as [(String, UInt64)])
    func computes(_ program: String, _ expected: UInt64) throws {
        #expect(try r0(program) == expected, "\(program)")
    }
}

@Suite struct JumpTests {
    /// (condition, operands that take it, operands that do not). r1 and r2 hold the operands;
    /// the register form compares r1 with r2, the immediate form r1 with the value.
    @Test(arguments: [
        ("jeq", (5, 5), (5, 6)), ("jne", (5, 6), (5, 5)),
        ("jgt", (-1, 1), (1, -1)), ("jge", (2, 2), (1, 2)), ("jlt", (1, -1), (-1, 1)), ("jle", (2, 2), (3, 2)),
        ("jsgt", (1, -1), (-1, 1)), ("jsge", (-1, -1), (-2, -1)), ("jslt", (-1, 1), (1, -1)), ("jsle", (-1, -1), (0, -1)),
        ("jset", (6, 2), (6, 1)),
    ] as [(String, (Int32, Int32), (Int32, Int32))])
    func conditionalJumps(_ op: String, _ taken: (Int32, Int32), _ notTaken: (Int32, Int32)) throws {
        for suffix in ["", "32"] {
            for (operands, expected) in [(taken, UInt64(1)), (notTaken, 0)] {
                let setup = "mov %r0, 0\nmov %r1, \(operands.0)\nmov %r2, \(operands.1)\n"
                #expect(try r0(setup + "\(op)\(suffix) %r1, %r2, +1\nja +1\nmov %r0, 1") == expected, "\(op)\(suffix) reg \(operands)")
                #expect(try r0(setup + "\(op)\(suffix) %r1, \(operands.1), +1\nja +1\nmov %r0, 1") == expected, "\(op)\(suffix) imm \(operands)")
            }
        }
    }

    @Test func jmp32ComparesOnlyTheLowHalves() throws {
        #expect(try r0("mov %r0, 0\nlddw %r1, 0x500000001\njeq32 %r1, 1, +1\nja +1\nmov %r0, 1") == 1)
        #expect(try r0("mov %r0, 0\nlddw %r1, 0x500000001\njeq %r1, 1, +1\nja +1\nmov %r0, 1") == 0)
    }

    @Test func unconditionalJumps() throws {
        #expect(try r0("mov %r0, 1\nja +1\nmov %r0, 2") == 1)
        #expect(try r0("mov %r0, 1\nja32 +1\nmov %r0, 2") == 1)
        // A backward loop: r0 counts to 10.
        #expect(try r0("mov %r0, 0\nadd %r0, 1\njlt %r0, 10, -2") == 10)
    }

    /// ja32 reaches past the 16-bit range of ordinary jumps.
    @Test func longJump() throws {
        let filler = String(repeating: "mov %r0, 2\n", count: 40_000)
        #expect(try r0("mov %r0, 1\nja32 +40000\n" + filler) == 1)
    }
}

@Suite struct MemoryTests {
    let input: [UInt8] = [0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88]

    @Test func loadsOfEverySize() throws {
        #expect(try r0("ldxb %r0, [%r1+1]", memory: input) == 0x82)
        #expect(try r0("ldxh %r0, [%r1+2]", memory: input) == 0x8483)
        #expect(try r0("ldxw %r0, [%r1+4]", memory: input) == 0x8887_8685)
        #expect(try r0("ldxdw %r0, [%r1+0]", memory: input) == 0x8887_8685_8483_8281)
        #expect(try r0("ldxsb %r0, [%r1+1]", memory: input) == UInt64(bitPattern: -126))
        #expect(try r0("ldxsh %r0, [%r1+2]", memory: input) == 0xffff_ffff_ffff_8483)
        #expect(try r0("ldxsw %r0, [%r1+4]", memory: input) == 0xffff_ffff_8887_8685)
        #expect(try r0("mov %r0, %r2", memory: input) == 8)
    }

    @Test func storesReachTheInput() throws {
        let result = try execute("""
            stb [%r1+0], 1
            sth [%r1+1], 0x0302
            mov %r3, 0x07060504
            stxw [%r1+3], %r3
            stxb [%r1+7], %r3
            mov %r0, 0
            exit
            """, memory: input)
        #expect(result.memory == [1, 2, 3, 4, 5, 6, 7, 4])
        let wide = try execute("stdw [%r1+0], -2\nlddw %r3, 0x0102030405060708\nstxh [%r1+0], %r3\nmov %r0, 0\nexit", memory: input)
        #expect(wide.memory == [0x08, 0x07, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
    }

    @Test func theStackHolds512Bytes() throws {
        #expect(try r0("stdw [%r10-512], 42\nstdw [%r10-8], 1\nldxdw %r0, [%r10-512]") == 42)
        #expect(try r0("lddw %r1, 0x1122334455667788\nstxdw [%r10-8], %r1\nldxw %r0, [%r10-4]") == 0x1122_3344)
    }

    @Test(arguments: [
        // op, initial memory value, src, expected memory, expected src afterwards
        ("lock add", 5, 3, 8, 3), ("lock fetch add", 5, 3, 8, 5),
        ("lock or", 0x50, 0x05, 0x55, 0x05), ("lock fetch or", 0x50, 0x05, 0x55, 0x50),
        ("lock and", 0x57, 0x0f, 0x07, 0x0f), ("lock fetch and", 0x57, 0x0f, 0x07, 0x57),
        ("lock xor", 0x55, 0x0f, 0x5a, 0x0f), ("lock fetch xor", 0x55, 0x0f, 0x5a, 0x55),
        ("lock xchg", 7, 9, 9, 7),
    ] as [(String, Int32, Int32, UInt64, UInt64)])
    func atomics(_ op: String, _ initial: Int32, _ src: Int32, _ memory: UInt64, _ after: UInt64) throws {
        for width in ["", "32"] {
            let slot = width == "" ? "stdw" : "stw"
            let load = width == "" ? "ldxdw" : "ldxw"
            let setup = "\(slot) [%r10-8], \(initial)\nmov %r1, \(src)\n\(op)\(width) [%r10-8], %r1\n"
            #expect(try r0(setup + "\(load) %r0, [%r10-8]") == memory, "\(op)\(width) memory")
            #expect(try r0(setup + "mov %r0, %r1") == after, "\(op)\(width) src")
        }
    }

    @Test func fetchedValuesOf32BitAtomicsAreZeroExtended() throws {
        #expect(try r0("stw [%r10-8], -1\nmov %r1, -1\nlock fetch add32 [%r10-8], %r1\nmov %r0, %r1") == 0xffff_ffff)
        #expect(try r0("stw [%r10-8], -1\nmov %r0, -1\nmov %r1, 0\nlock cmpxchg32 [%r10-8], %r1") == 0xffff_ffff)
    }

    @Test func compareExchange() throws {
        // Matching r0: memory takes src, r0 gets the old value.
        #expect(try r0("stdw [%r10-8], 4\nmov %r0, 4\nmov %r1, 9\nlock cmpxchg [%r10-8], %r1\nldxdw %r0, [%r10-8]") == 9)
        #expect(try r0("stdw [%r10-8], 4\nmov %r0, 4\nmov %r1, 9\nlock cmpxchg [%r10-8], %r1") == 4)
        // Not matching: memory unchanged, r0 gets the current value.
        #expect(try r0("stdw [%r10-8], 4\nmov %r0, 5\nmov %r1, 9\nlock cmpxchg [%r10-8], %r1\nldxdw %r0, [%r10-8]") == 4)
        #expect(try r0("stdw [%r10-8], 4\nmov %r0, 5\nmov %r1, 9\nlock cmpxchg [%r10-8], %r1") == 4)
    }

    @Test func atomicsWorkOnTheInputToo() throws {
        let result = try execute("mov %r2, 2\nlock add32 [%r1+4], %r2\nmov %r0, 0\nexit", memory: [0, 0, 0, 0, 1, 0, 0, 0])
        #expect(result.memory == [0, 0, 0, 0, 3, 0, 0, 0])
    }
}

@Suite struct CallTests {
    @Test func localCallsPreserveCalleeSavedRegistersAndGetTheirOwnFrame() throws {
        let program = """
            mov %r6, 6
            stdw [%r10-8], 11
            mov %r1, %r10
            call local +3
            ldxdw %r1, [%r10-8]
            add %r0, %r1
            exit
            mov %r6, 100
            stdw [%r10-8], 22
            ldxdw %r0, [%r1-8]
            add %r0, %r6
            exit
            """
        // callee: r0 = caller's [r10-8] (11, through the pointer) + 100; caller adds its own [r10-8].
        #expect(try execute(program).r0 == 11 + 100 + 11)
        #expect(try r0("mov %r6, 6\ncall local +2\nmov %r0, %r6\nexit\nmov %r6, 1\nexit") == 6)
    }

    @Test func framesAre512BytesApart() throws {
        #expect(try r0("mov %r1, %r10\ncall local +1\nexit\nmov %r0, %r1\nsub %r0, %r10\nexit") == 512)
    }

    /// Recursion to depth n: f(n) = n == 0 ? 0 : 1 + f(n - 1).
    func recursion(_ depth: Int32) -> String {
        """
        mov %r1, \(depth)
        call local +1
        exit
        mov %r0, 0
        jeq %r1, 0, +4
        mov %r6, %r1
        sub %r1, 1
        call local -5
        add %r0, 1
        exit
        """
    }

    @Test func eightFramesAreAllowed() throws {
        #expect(try execute(recursion(6)).r0 == 6)   // entry frame + 7 calls = 8 frames
    }

    @Test func deeperCallsOverflowTheStack() throws {
        let error = failure(recursion(7))
        #expect(error?.kind == .stackOverflow)
        #expect(error?.description == "instruction 7 (call local -5): stack overflow: more than 8 nested call frames")
        let shallow = failure(recursion(2), options: VMOptions(maxCallDepth: 4))
        #expect(shallow == nil)
        #expect(failure(recursion(3), options: VMOptions(maxCallDepth: 4))?.kind == .stackOverflow)
    }
}

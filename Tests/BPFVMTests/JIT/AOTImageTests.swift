import TestSupport
import Testing
import BPFModel
@testable import BPFVM

@Suite struct AOTImageTests {
    /// AOT code made in one VM, serialized, parsed and loaded into another VM.
    static func loadFresh(_ vm: VirtualMachine) throws -> JITProgram {
        let maker = try VirtualMachine(program: vm.program, maps: vm.environment.maps, options: vm.options)
        let image = try AOTImage(serialized: AOTImage(machine: maker).serialized)
        return try JITProgram(machine: vm, image: image)
    }

    @Test func conformanceSuiteRunsFromImages() throws {
        let cases = try loadCases("conformance/conformance.jsonl")
        var agreed = 0
        for c in cases {
            let program = try Program(bytecode: bytes(hex: c.insns_hex))
            let runs = try differential(program, memory: bytes(hex: c.mem_hex), options: VMOptions(helpers: conformanceHelpers()),
                                        compile: Self.loadFresh)
            #expect(runs.jit == runs.interpreter, "\(c.name): AOT \(runs.jit) vs interpreter \(runs.interpreter)")
            if runs.jit == runs.interpreter && runs.jit.r0 == c.result { agreed += 1 }
        }
        #expect(agreed == cases.count)
    }

    static func maps() -> SegmentMaps {
        let maps = SegmentMaps()
        maps.addMap(fd: 3, MapInfo(kind: .hash, keySize: 4, valueSize: 8, maxEntries: 4))
        maps.addMap(fd: 4, MapInfo(kind: .array, keySize: 4, valueSize: 16, maxEntries: 1))
        return maps
    }

    static let globals = """
        lddw %r6, map_value 4+8
        ldxdw %r0, [%r6+0]
        add %r0, 1
        stxdw [%r6+0], %r0
        stw [%r10-4], 1
        lddw %r1, map_fd 3
        mov %r2, %r10
        add %r2, -4
        mov %r3, %r6
        mov %r4, 0
        call 2
        ldxdw %r0, [%r6+0]
        exit
        """

    /// Map loads are relocated: two processes' maps live at different addresses, the code does not.
    @Test func codeIsPositionIndependent() throws {
        let program = try TestAssembler.program(Self.globals)
        let first = try VirtualMachine(program: program, maps: Self.maps())
        let second = try VirtualMachine(program: program, maps: Self.maps())
        #expect(try AOTImage(machine: first) == AOTImage(machine: second))
        #expect(try AOTImage(machine: first).relocations == [0, 6])
        // JIT code embeds this process's global address, so it differs.
        #expect(try JITProgram(machine: first).machineCode != JITProgram(machine: second).machineCode)
        // And it runs against the loader's own maps.
        let maps = Self.maps()
        let aot = try JITProgram(machine: VirtualMachine(program: program, maps: maps), image: AOTImage(machine: first))
        #expect(try aot.run(input: UnsafeMutableRawBufferPointer(start: nil, count: 0)) == 1)
        #expect(try aot.run(input: UnsafeMutableRawBufferPointer(start: nil, count: 0)) == 2)
        #expect(maps.value(fd: 4, key: key(0)) == [UInt8](repeating: 0, count: 8) + le64(2))
        #expect(maps.value(fd: 3, key: key(1)) == le64(2))
    }

    @Test func staleImagesAreRefused() throws {
        let program = try TestAssembler.program("mov %r0, 1\nexit")
        let image = try AOTImage(machine: VirtualMachine(program: program))
        let other = try VirtualMachine(program: try TestAssembler.program("mov %r0, 2\nexit"))
        #expect(throws: JITError.self) { try JITProgram(machine: other, image: image) }
        let fewerHelpers = try VirtualMachine(program: program, options: VMOptions(helpers: conformanceHelpers()))
        #expect(throws: JITError.self) { try JITProgram(machine: fewerHelpers, image: image) }
        let shallower = try VirtualMachine(program: program, options: VMOptions(maxCallDepth: 4))
        #expect(throws: JITError.self) { try JITProgram(machine: shallower, image: image) }
        let budgeted = try VirtualMachine(program: program, options: VMOptions(maxInstructions: 10))
        #expect(throws: JITError.self) { try JITProgram(machine: budgeted, image: image) }
        let same = try VirtualMachine(program: program)
        #expect(try JITProgram(machine: same, image: image).run(input: UnsafeMutableRawBufferPointer(start: nil, count: 0)) == 1)
    }

    @Test func malformedBytesAreRejected() throws {
        let bytes = try AOTImage(machine: VirtualMachine(program: TestAssembler.program(Self.globals), maps: Self.maps())).serialized
        #expect(try AOTImage(serialized: bytes).serialized == bytes)
        for cut in [0, 4, 8, 20, 35, bytes.count - 1] {
            #expect(throws: JITError.self) { try AOTImage(serialized: Array(bytes.prefix(cut))) }
        }
        #expect(throws: JITError.self) { try AOTImage(serialized: bytes + [0]) }
        var badMagic = bytes
        badMagic[0] ^= 0xff
        #expect(throws: JITError.self) { try AOTImage(serialized: badMagic) }
        // Header: magic 8, hashes 16, depth 4, ABI 4, relocation count at 32, relocations from 36.
        // Huge counts never allocate or trap.
        var hugeCount = bytes
        for i in 32 ..< 36 { hugeCount[i] = 0xff }
        #expect(throws: JITError.self) { try AOTImage(serialized: hugeCount) }
        // A relocation that does not name a map load is refused before anything runs.
        var badRelocation = bytes
        badRelocation[36] = 1
        let image = try AOTImage(serialized: badRelocation)
        let vm = try VirtualMachine(program: TestAssembler.program(Self.globals), maps: Self.maps())
        #expect(throws: JITError.self) { try JITProgram(machine: vm, image: image) }
    }
}

import Testing
@testable import BPFModel

@Suite struct HexTests {
    @Test func roundTrip() {
        let bytes: [UInt8] = [0x00, 0x0f, 0xab, 0xff]
        #expect(Hex.encode(bytes) == "000fabff")
        #expect(Hex.decode("000fABff") == bytes)
    }

    @Test func rejectsOddLengthAndNonHex() {
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
        #expect(Hex.decode("") == [])
    }
}

@Suite struct MapKindTests {
    @Test func kernelUserTypesBehaveAsTheirBase() {
        #expect(MapKind(mapType: 1001) == .hash)
        #expect(MapKind(mapType: 1002) == .array)
        #expect(MapKind(mapType: 1004) == .perfEventArray)
        #expect(MapKind(mapType: 1006) == .percpuArray)
        #expect(MapKind(mapType: 12345) == nil)
        #expect(MapKind(mapType: 0) == nil)
    }

    @Test func contentsIndexing() {
        var c = MapContents(keySize: 4, valueSize: 8, valuesPerEntry: 2)
        c.append(key: [1, 0, 0, 0], value: [UInt8](repeating: 7, count: 16))
        c.append(key: [2, 0, 0, 0], value: [UInt8](repeating: 9, count: 16))
        #expect(c.count == 2)
        #expect(Array(c.key(at: 1)) == [2, 0, 0, 0])
        #expect(c.value(at: 0).allSatisfy { $0 == 7 })
    }

    @Test func referencesAndApplyOrder() {
        let prog = Handler.program(ProgramHandler(name: "p", type: 0, bytecode: [], attachments: [.init(targetFD: 5)]))
        let link = Handler.link(LinkHandler(programFD: 4, targetFD: 5))
        #expect(prog.referencedFDs == [5])
        #expect(link.referencedFDs == [4, 5])
        #expect(HandlerKind.map.applyOrder < HandlerKind.program.applyOrder)
        #expect(HandlerKind.perfEvent.applyOrder < HandlerKind.link.applyOrder)
    }
}

@Suite struct ProgramHandlerTests {
    @Test func aotImageDefaultsToNoneAndIsPartOfTheValue() {
        let plain = ProgramHandler(name: "p", type: 2, bytecode: [0x95, 0, 0, 0, 0, 0, 0, 0])
        #expect(plain.aotImage == nil)
        var compiled = plain
        compiled.aotImage = [0xc3]
        #expect(compiled != plain)
        #expect(Set([plain, compiled]).count == 2)
    }
}

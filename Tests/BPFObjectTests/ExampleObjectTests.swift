import BPFModel
import BPFObject
import TestSupport
import BPFVM
import Foundation
import Testing

/// The examples, compiled by clang, read as libbpf would read them.
@Suite(.enabled(if: ExampleCompiler.clang != nil, Comment(rawValue: ExampleCompiler.skipReason)))
struct ExampleObjectTests {
    func load(_ name: String, target: String = "./bpftime-target") throws -> BPFObject {
        let url = try ExampleCompiler.compile(name, target: target)
        return try BPFObject(bytes: [UInt8](try Data(contentsOf: url)), fileName: url.lastPathComponent, possibleCPUs: 4)
    }

    @Test func everyExampleLoadsAndValidates() throws {
        for name in ExampleCompiler.all {
            let object = try load(name)
            #expect(object.license == "GPL", "\(name)")
            #expect(!object.programs.isEmpty, "\(name)")
            // Every program passes the VM's validator with its maps in place.
            let backend = SegmentMaps()
            let mapFDs = Array(10 ..< 10 + object.maps.count), programFDs = Array(100 ..< 100 + object.programs.count)
            for (map, fd) in zip(object.maps, mapFDs) {
                let a = map.attributes
                backend.addMap(fd: Int32(fd), MapInfo(kind: a.kind!, keySize: Int(a.keySize), valueSize: Int(a.valueSize), maxEntries: Int(a.maxEntries)))
            }
            for record in object.records(mapFDs: mapFDs, programFDs: programFDs) {
                guard case .program(let p) = record.handler else { continue }
                try Validator(helpers: .standard(), maps: backend).validate(Program(bytecode: p.bytecode))
            }
        }
    }

    @Test func mapsFromBTF() throws {
        let counter = try load("uprobe_counter")
        #expect(counter.maps.map(\.name) == ["calls_by_pid"])
        #expect(counter.maps[0].attributes == MapAttributes(mapType: 1, keySize: 4, valueSize: 8, maxEntries: 1024))
        #expect(counter.programs.map(\.name) == ["count_work"])
        #expect(counter.programs[0].section == "uprobe/./bpftime-target:bpftime_target_work")
        #expect(counter.programs[0].type == 2)

        let queue = try load("queue_producer")
        #expect(queue.maps[0].attributes == MapAttributes(mapType: 22, keySize: 0, valueSize: 8, maxEntries: 64))
        let ring = try load("ringbuf_emitter")
        #expect(ring.maps[0].attributes == MapAttributes(mapType: 27, keySize: 0, valueSize: 0, maxEntries: 4096))
    }

    @Test func globalDataBecomesArrayMapsNamedAsLibbpfNamesThem() throws {
        var object = try load("funclatency")
        let byName = Dictionary(uniqueKeysWithValues: object.maps.map { ($0.name, $0) })
        // The object is "funclatency-<hash>.bpf.o": libbpf keeps 8 characters of its name.
        let rodata = try #require(object.maps.first { $0.section == ".rodata" })
        let bss = try #require(object.maps.first { $0.section == ".bss" })
        #expect(rodata.name == "funclate.rodata" && bss.name == "funclate.bss")
        #expect(byName["starts"] != nil)
        #expect(rodata.attributes.flags & ObjectMap.readOnlyForPrograms != 0)
        #expect(bss.attributes.flags & ObjectMap.readOnlyForPrograms == 0)
        #expect(rodata.attributes.valueSize == 16 && rodata.initialValue == [UInt8](repeating: 0, count: 16))
        #expect(bss.attributes.valueSize == 33 * 8)
        #expect(object.globalSize("units_shift") == 8 && object.globalSize("target_pid") == 4)
        try object.setGlobal("target_pid", to: [7, 0, 0, 0])
        try object.setGlobal("units_shift", to: [10, 0, 0, 0, 0, 0, 0, 0])
        let value = try #require(object.maps.first { $0.section == ".rodata" }?.initialValue)
        #expect(value.contains(7) && value.contains(10))
        #expect(throws: ObjectError.self) { try object.setGlobal("units_shift", to: [1]) }
        #expect(throws: ObjectError.self) { try object.setGlobal("nope", to: [1]) }
        // Loads of globals become lddw src=2 with the variable's offset.
        let records = object.records(mapFDs: Array(3 ..< 3 + object.maps.count), programFDs: Array(20 ..< 20 + object.programs.count))
        let exit = try #require(records.compactMap { r -> ProgramHandler? in if case .program(let p) = r.handler, p.name == "work_exit" { p } else { nil } }.first)
        let program = try Program(bytecode: exit.bytecode)
        #expect(program.instructions.contains { $0.opcode == 0x18 && $0.src == 2 })
    }

    @Test func internalMapNames() {
        #expect(BPFObject.internalMapName("minimal", ".rodata") == "minimal.rodata")
        #expect(BPFObject.internalMapName("my_object_name", ".bss") == "my_objec.bss")
        #expect(BPFObject.internalMapName("obj", ".rodata.str1.1") == ".rodata.str1.1")
        #expect(BPFObject.internalMapName("obj", ".data.very_long_name") == ".data.very_long")
        #expect(BPFObject.internalMapName("a-b", ".data") == "a_b.data")
    }

    @Test func tailCallTableIsFilledFromTheObject() throws {
        let object = try load("tailcall")
        #expect(Set(object.programs.map(\.name)) == ["handle_even", "handle_odd", "dispatch"])
        let table = try #require(object.maps.first { $0.name == "handlers" })
        #expect(table.attributes.mapType == 3 && table.attributes.keySize == 4 && table.attributes.valueSize == 4)
        let even = try #require(object.programs.firstIndex { $0.name == "handle_even" })
        let odd = try #require(object.programs.firstIndex { $0.name == "handle_odd" })
        #expect(table.initialPrograms == [0: even, 1: odd])
    }

    @Test func ptRegsFieldsResolveAgainstX86() throws {
        let object = try load("kprobe_args")
        let code = try Program(bytecode: object.programs[0].bytecode)
        let contextLoads = code.instructions.filter { $0.opcode == 0x79 && $0.src == 1 }.map(\.offset)
        #expect(Set(contextLoads) == [Int16(X86PTRegs.di), Int16(X86PTRegs.si)])
    }
}

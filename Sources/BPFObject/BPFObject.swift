import BPFModel

/// An eBPF object file as clang writes it (`clang -target bpf -g -c`), read into programs and
/// maps the way libbpf reads it: program sections (one or more programs each), `.text`
/// sub-programs, BTF-defined and legacy maps, global data as array maps, map and global
/// relocations, and CO-RE relocations on `struct pt_regs`. Everything else is refused with an
/// error naming the section, instruction or symbol; a malformed file is an error, never a trap.
public struct BPFObject: Sendable {
    /// The object's name as libbpf derives it: the file name up to its first dot.
    public let name: String
    /// The `license` section's string, if any.
    public let license: String?
    public private(set) var maps: [ObjectMap]
    public let programs: [ObjectProgram]
    /// Global variables by name: their map and place in its value (for `setGlobal`).
    private let globals: [String: (map: Int, offset: Int, size: Int)]

    /// The most instructions a program may have (the kernel's limit for privileged loaders).
    public static let maxInstructions = 1_000_000

    /// Reads `bytes`, the contents of a file named `fileName`. A `perf_event_array` without
    /// `max_entries` gets `possibleCPUs` slots, as libbpf gives it.
    public init(bytes: [UInt8], fileName: String, possibleCPUs: Int) throws(ObjectError) {
        let elf = try ELFFile(bytes: bytes)
        guard elf.machine == ELFFile.machineBPF else {
            throw ObjectError("not an eBPF object: ELF machine \(elf.machine), not EM_BPF (247); compile with clang -target bpf")
        }
        guard elf.fileType == 1 else { throw ObjectError("not a relocatable object (ELF type \(elf.fileType)); load the .o clang -c writes") }
        let base = fileName.split(separator: "/").last.map(String.init) ?? fileName
        name = base.split(separator: ".", omittingEmptySubsequences: false).first.map(String.init) ?? base
        license = try elf.section(named: "license").map { section throws(ObjectError) in
            let bytes = try elf.contents(section)
            return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
        let btfBytes = try elf.section(named: ".BTF").map { s throws(ObjectError) in try elf.contents(s) }
        let btf = try btfBytes.map { b throws(ObjectError) in try BTF(b) }
        var core: [CORERelocation] = []
        if let ext = elf.section(named: ".BTF.ext"), let btfBytes {
            core = try CORERelocation.read(try elf.contents(ext), strings: btfBytes)
        }
        var maps = try MapReader(elf: elf, btf: btf, objectName: name, possibleCPUs: possibleCPUs).maps()
        let code = try CodeSections(elf: elf, maps: maps, core: core, btf: btf)

        var programs: [ObjectProgram] = []
        var programBySymbol: [String: Int] = [:]
        for index in code.sections.keys.sorted() where index != code.textIndex {
            guard let section = code.sections[index] else { continue }
            guard let type = ProgramSections.type(of: section.name) else {
                throw ObjectError("section \(section.name): unknown program section type (known: \(ProgramSections.prefixes.map(\.0).joined(separator: ", ")))")
            }
            guard !section.functions.isEmpty else { throw ObjectError("section \(section.name): code without a function symbol") }
            for function in section.functions.sorted(by: { $0.start < $1.start }) {
                guard !function.isLocal else { throw ObjectError("section \(section.name): program \(function.name) is static, which libbpf does not support either") }
                let (bytecode, loads) = try code.link(function, in: index)
                guard bytecode.count / 8 <= Self.maxInstructions else {
                    throw ObjectError("program \(function.name): \(bytecode.count / 8) instructions, more than the limit of \(Self.maxInstructions)")
                }
                programBySymbol[function.name] = programs.count
                programs.append(ObjectProgram(name: function.name, section: section.name, type: type, bytecode: bytecode, mapLoads: loads))
            }
        }
        guard !programs.isEmpty else {
            throw ObjectError("the object has no program sections (functions in .text are sub-programs; put programs in SEC(\"uprobe/...\") and the like)")
        }
        // Prog-array slots were read as symbol indexes; point them at the programs.
        for m in maps.indices where !maps[m].initialPrograms.isEmpty {
            var slots: [UInt32: Int] = [:]
            for (slot, symbol) in maps[m].initialPrograms {
                let symbolName = elf.symbols[symbol].name
                guard let program = programBySymbol[symbolName] else { throw ObjectError("map \(maps[m].name): slot \(slot) names \(symbolName), which is not a program") }
                guard slot < maps[m].attributes.maxEntries else { throw ObjectError("map \(maps[m].name): slot \(slot) is past max_entries") }
                slots[slot] = program
            }
            maps[m].initialPrograms = slots
        }
        self.maps = maps
        self.programs = programs
        globals = Self.globals(elf, maps)
    }

    private static func globals(_ elf: ELFFile, _ maps: [ObjectMap]) -> [String: (map: Int, offset: Int, size: Int)] {
        var out: [String: (map: Int, offset: Int, size: Int)] = [:]
        for symbol in elf.symbols where symbol.type == 1 { // STT_OBJECT
            guard let m = maps.firstIndex(where: { $0.initialValue != nil && $0.sectionIndex == Int(symbol.sectionIndex) }),
                  let count = maps[m].initialValue?.count, symbol.value <= UInt64(count), symbol.size <= UInt64(count) - symbol.value else { continue }
            out[symbol.name] = (m, Int(symbol.value), Int(symbol.size))
        }
        return out
    }

    /// The byte size of global variable `name`, or `nil` when the object has none of that name.
    public func globalSize(_ name: String) -> Int? { globals[name]?.size }

    /// Sets the initial value of global variable `name` (a `const volatile` knob in `.rodata`,
    /// or a `.data`/`.bss` variable), as a libbpf skeleton does before load.
    public mutating func setGlobal(_ name: String, to value: [UInt8]) throws(ObjectError) {
        guard let global = globals[name] else { throw ObjectError("no global variable \"\(name)\" in the object's data sections") }
        guard value.count == global.size else { throw ObjectError("global \(name) is \(global.size) bytes, the value given is \(value.count)") }
        maps[global.map].initialValue?.replaceSubrange(global.offset ..< global.offset + global.size, with: value)
    }

    /// The handlers that create this object's maps at `mapFDs` and programs at `programFDs`
    /// (one fd per map and program, in order), with every map load pointing at its fd.
    public func records(mapFDs: [Int], programFDs: [Int]) -> [HandlerRecord] {
        precondition(mapFDs.count == maps.count && programFDs.count == programs.count, "one fd per map and program")
        var records: [HandlerRecord] = []
        for (map, fd) in zip(maps, mapFDs) {
            var contents: MapContents?
            if let value = map.initialValue {
                contents = MapContents(keySize: 4, valueSize: value.count, keys: [0, 0, 0, 0], values: value)
            } else if !map.initialPrograms.isEmpty {
                var slots = MapContents(keySize: 4, valueSize: 4)
                for slot in map.initialPrograms.keys.sorted() {
                    slots.append(key: Self.littleEndian(slot), value: Self.littleEndian(UInt32(programFDs[map.initialPrograms[slot]!])))
                }
                contents = slots
            }
            records.append(HandlerRecord(fd: fd, handler: .map(MapHandler(name: map.name, attributes: map.attributes, contents: contents))))
        }
        for (program, fd) in zip(programs, programFDs) {
            var code = program.bytecode
            for load in program.mapLoads {
                let at = load.instruction * 8
                Code.setSource(&code, at, load.valueOffset == nil ? 1 : 2)
                Code.setImmediate(&code, at, Int32(mapFDs[load.map]))
                Code.setImmediate(&code, at + 8, load.valueOffset ?? 0)
            }
            let name = String(program.name.prefix(ObjectMap.nameLength))
            records.append(HandlerRecord(fd: fd, handler: .program(ProgramHandler(name: name, type: program.type, bytecode: code))))
        }
        return records
    }

    static func littleEndian(_ v: UInt32) -> [UInt8] { (0 ..< 4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
}

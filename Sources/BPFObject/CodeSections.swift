/// The executable sections of an object with their relocations read: calls to sub-programs,
/// map and global loads, CO-RE fields patched in. Programs are linked from these.
struct CodeSections {
    struct Function { var name: String; var start: Int; var end: Int; var isLocal: Bool }

    enum MapTarget: Equatable { case map(Int), global(map: Int, offset: Int32) }

    struct Section {
        var index: Int
        var name: String
        var code: [UInt8]
        var functions: [Function]
        /// Instruction → (target section, target instruction) for `call` to a sub-program.
        var calls: [Int: (section: Int, instruction: Int)] = [:]
        var mapLoads: [Int: MapTarget] = [:]

        var instructionCount: Int { code.count / 8 }

        func function(containing instruction: Int) -> Function? {
            functions.first { $0.start <= instruction && instruction < $0.end }
        }
    }

    static let relocationLoad: UInt32 = 1   // R_BPF_64_64
    static let relocationCall: UInt32 = 10  // R_BPF_64_32
    static let callOpcode: UInt8 = 0x85, lddwOpcode: UInt8 = 0x18, pseudoCall: UInt8 = 1

    private(set) var sections: [Int: Section] = [:]
    let textIndex: Int?

    init(elf: ELFFile, maps: [ObjectMap], core: [CORERelocation], btf: BTF?) throws(ObjectError) {
        textIndex = elf.section(named: ".text")?.index
        for header in elf.sections where header.isExecutable && header.size > 0 {
            guard header.size % 8 == 0 else { throw ObjectError("section \(header.name): \(header.size) bytes is not a whole number of instructions") }
            var section = Section(index: header.index, name: header.name, code: try elf.contents(header), functions: [])
            for symbol in elf.symbols where Int(symbol.sectionIndex) == header.index && symbol.isFunction {
                guard symbol.value % 8 == 0, symbol.size % 8 == 0, symbol.size > 0,
                      symbol.value <= header.size, symbol.size <= header.size - symbol.value else {
                    throw ObjectError("section \(header.name): function \(symbol.name) lies outside the section or off an instruction boundary")
                }
                section.functions.append(Function(name: symbol.name, start: Int(symbol.value / 8),
                                                  end: Int((symbol.value + symbol.size) / 8), isLocal: symbol.isLocal))
            }
            for relocation in core where relocation.section == header.name {
                guard let btf else { throw ObjectError(".BTF.ext without .BTF") }
                try relocation.patch(&section.code, value: try relocation.value(in: btf))
            }
            try readRelocations(elf.relocations(for: header.index), into: &section, elf: elf, maps: maps)
            sections[header.index] = section
        }
    }

    private func readRelocations(_ relocations: [ELFFile.Relocation], into section: inout Section, elf: ELFFile, maps: [ObjectMap]) throws(ObjectError) {
        for relocation in relocations {
            let symbol = elf.symbols[relocation.symbolIndex]
            let index = Int(relocation.offset / 8)
            let place = "section \(section.name), instruction \(index), symbol \"\(symbol.name.isEmpty ? "#\(relocation.symbolIndex)" : symbol.name)\""
            guard relocation.offset % 8 == 0, index < section.instructionCount else {
                throw ObjectError("\(place): relocation at byte \(relocation.offset) is not an instruction of the section")
            }
            let at = index * 8
            switch relocation.type {
            case Self.relocationCall:
                guard section.code[at] == Self.callOpcode, Code.source(section.code, at) == Self.pseudoCall else {
                    throw ObjectError("\(place): R_BPF_64_32 relocation on an instruction that is not a sub-program call")
                }
                guard let textIndex, Int(symbol.sectionIndex) == textIndex, symbol.value % 8 == 0 else {
                    throw ObjectError("\(place): call to a function outside .text")
                }
                let target = Int(symbol.value / 8) + Int(Code.immediate(section.code, at)) + 1
                section.calls[index] = (textIndex, target)
            case Self.relocationLoad:
                guard section.code[at] == Self.lddwOpcode, index + 1 < section.instructionCount else {
                    throw ObjectError("\(place): R_BPF_64_64 relocation on an instruction that is not an lddw")
                }
                section.mapLoads[index] = try mapTarget(symbol, maps: maps, immediate: Code.immediate(section.code, at), place: place)
            default:
                throw ObjectError("\(place): unsupported relocation type \(relocation.type)")
            }
        }
        // Calls within the section carry no relocation: their target is relative.
        for i in 0 ..< section.instructionCount where section.calls[i] == nil {
            let at = i * 8
            if section.code[at] == Self.callOpcode && Code.source(section.code, at) == Self.pseudoCall {
                section.calls[i] = (section.index, i + 1 + Int(Code.immediate(section.code, at)))
            }
        }
    }

    private func mapTarget(_ symbol: ELFFile.Symbol, maps: [ObjectMap], immediate: Int32, place: String) throws(ObjectError) -> MapTarget {
        guard symbol.sectionIndex != 0 else { throw ObjectError("\(place): extern symbols (kconfig, ksym) are not supported") }
        if let i = maps.firstIndex(where: { $0.sectionIndex == Int(symbol.sectionIndex) && $0.initialValue == nil && $0.symbol == symbol.name }) {
            return .map(i)
        }
        if let i = maps.firstIndex(where: { $0.sectionIndex == Int(symbol.sectionIndex) && $0.initialValue != nil }) {
            let (offset, overflow) = Int64(immediate).addingReportingOverflow(Int64(truncatingIfNeeded: symbol.value))
            guard !overflow, offset >= 0, offset < Int64(maps[i].initialValue?.count ?? 0) else {
                throw ObjectError("\(place): offset \(offset) is outside \(maps[i].section)")
            }
            return .global(map: i, offset: Int32(offset))
        }
        if symbol.isFunction || sections[Int(symbol.sectionIndex)] != nil {
            throw ObjectError("\(place): loading a function's address (callbacks) is not supported")
        }
        throw ObjectError("\(place): the symbol is neither a map nor global data")
    }

    /// The program starting at `function` of `section`, with every sub-program it reaches
    /// appended once (as libbpf does) and calls pointed at them.
    func link(_ function: Function, in sectionIndex: Int) throws(ObjectError) -> (code: [UInt8], loads: [ObjectProgram.MapLoad]) {
        struct Placed { var section: Int; var function: Function; var base: Int }
        var placed = [Placed(section: sectionIndex, function: function, base: 0)]
        var code: [UInt8] = []
        var loads: [ObjectProgram.MapLoad] = []
        var next = 0
        while next < placed.count {
            let piece = placed[next]
            next += 1
            guard let section = sections[piece.section] else { throw ObjectError("section \(piece.section) holds no code") }
            for i in piece.function.start ..< piece.function.end {
                let at = i * 8
                var instruction = Array(section.code[at ..< at + 8])
                let final = piece.base + i - piece.function.start
                if let call = section.calls[i] {
                    let place = "section \(section.name), instruction \(i)"
                    guard let targetSection = sections[call.section], let callee = targetSection.function(containing: call.instruction) else {
                        throw ObjectError("\(place): call target \(call.instruction) is not inside a function")
                    }
                    let base: Int
                    if let existing = placed.first(where: { $0.section == call.section && $0.function.start == callee.start }) {
                        base = existing.base
                    } else {
                        base = (placed.last.map { $0.base + $0.function.end - $0.function.start }) ?? 0
                        placed.append(Placed(section: call.section, function: callee, base: base))
                    }
                    let relative = base + call.instruction - callee.start - (final + 1)
                    guard let imm = Int32(exactly: relative) else { throw ObjectError("\(place): call distance \(relative) does not fit") }
                    Code.setImmediate(&instruction, 0, imm)
                }
                if let target = section.mapLoads[i] {
                    switch target {
                    case .map(let map):
                        loads.append(.init(instruction: final, map: map, valueOffset: nil))
                    case .global(let map, let offset):
                        loads.append(.init(instruction: final, map: map, valueOffset: offset))
                    }
                }
                code += instruction
            }
        }
        return (code, loads)
    }
}

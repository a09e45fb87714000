/// A 64-bit little-endian ELF file: its sections, symbols and relocations, every offset checked.
/// Used for eBPF objects (`EM_BPF`) and for the executables uprobes name.
public struct ELFFile {
    public static let machineBPF: UInt16 = 247

    public struct Section {
        public var index: Int
        public var name: String
        public var type: UInt32
        public var flags: UInt64
        public var address: UInt64
        public var offset: UInt64
        public var size: UInt64
        public var link: UInt32
        public var info: UInt32
        public var entrySize: UInt64

        public var isExecutable: Bool { flags & ELFFile.flagExecutable != 0 }
        /// `SHT_NOBITS` (`.bss`): occupies no bytes in the file.
        public var hasNoBits: Bool { type == ELFFile.typeNoBits }
    }

    public struct Symbol {
        public var name: String
        public var info: UInt8
        public var sectionIndex: UInt16
        public var value: UInt64
        public var size: UInt64

        public var type: UInt8 { info & 0xf }
        public var binding: UInt8 { info >> 4 }
        public var isFunction: Bool { type == 2 || type == 10 } // STT_FUNC, STT_GNU_IFUNC
        public var isSection: Bool { type == 3 }
        public var isLocal: Bool { binding == 0 }
    }

    public struct Relocation {
        public var offset: UInt64
        public var symbolIndex: Int
        public var type: UInt32
    }

    static let typeSymtab: UInt32 = 2, typeDynsym: UInt32 = 11, typeRel: UInt32 = 9, typeNoBits: UInt32 = 8
    static let flagExecutable: UInt64 = 4
    /// `.bss` occupies no file bytes, so its size is bounded here rather than by the file.
    static let maxZeroedSection: UInt64 = 64 << 20

    public let machine: UInt16
    public let fileType: UInt16
    public let sections: [Section]
    /// `.symtab` symbols, in order (index 0 is the null symbol); empty when there is none.
    public let symbols: [Symbol]
    let reader: ByteReader

    public init(bytes: [UInt8]) throws(ObjectError) {
        let r = ByteReader(bytes)
        reader = r
        guard bytes.count >= 4, bytes[0 ..< 4].elementsEqual([0x7f, 0x45, 0x4c, 0x46]) else {
            throw ObjectError("not an ELF file (no \\x7fELF magic)")
        }
        guard bytes.count >= 64 else { throw ObjectError("truncated ELF header: \(bytes.count) bytes, 64 needed") }
        guard bytes[4] == 2 else { throw ObjectError("not a 64-bit ELF file (class \(bytes[4]))") }
        guard bytes[5] == 1 else {
            throw ObjectError(bytes[5] == 2 ? "big-endian ELF file: only little-endian objects are supported (compile with -target bpfel or bpf on x86-64)"
                                            : "unknown ELF data encoding \(bytes[5])")
        }
        fileType = try r.u16(16, "ELF header")
        machine = try r.u16(18, "ELF header")
        let sectionTable = try r.u64(0x28, "ELF header")
        let entrySize = Int(try r.u16(0x3a, "ELF header"))
        let count = Int(try r.u16(0x3c, "ELF header"))
        let namesIndex = Int(try r.u16(0x3e, "ELF header"))
        guard count > 0 else { throw ObjectError("the ELF file has no section headers") }
        guard entrySize == 64 else { throw ObjectError("section header size is \(entrySize), not 64") }
        _ = try r.range(sectionTable, UInt64(count) * 64, "section header table")

        var raw: [Section] = []
        for i in 0 ..< count {
            let at = Int(sectionTable) + i * 64
            let what = "section header \(i)"
            raw.append(Section(index: i, name: "", type: try r.u32(at + 4, what), flags: try r.u64(at + 8, what),
                               address: try r.u64(at + 16, what), offset: try r.u64(at + 24, what),
                               size: try r.u64(at + 32, what), link: try r.u32(at + 40, what),
                               info: try r.u32(at + 44, what), entrySize: try r.u64(at + 56, what)))
            if raw[i].type != Self.typeNoBits && raw[i].type != 0 {
                _ = try r.range(raw[i].offset, raw[i].size, "section \(i)")
            }
        }
        guard namesIndex < count else { throw ObjectError("section name table index \(namesIndex) is past the \(count) sections") }
        let names = ByteReader(Array(try r.slice(raw[namesIndex].offset, raw[namesIndex].size, "section name table")))
        for i in 0 ..< count {
            raw[i].name = try names.cString(Int(try r.u32(Int(sectionTable) + i * 64, "section header \(i)")), "name of section \(i)")
        }
        sections = raw
        let table = raw.first { $0.type == Self.typeSymtab } ?? raw.first { $0.type == Self.typeDynsym }
        symbols = try table.map { table throws(ObjectError) in try Self.readSymbols(table, in: raw, r) } ?? []
    }

    private static func readSymbols(_ table: Section, in sections: [Section], _ r: ByteReader) throws(ObjectError) -> [Symbol] {
        guard Int(table.link) < sections.count else {
            throw ObjectError("symbol table \(table.name): string table index \(table.link) is past the sections")
        }
        let strings = sections[Int(table.link)]
        let names = ByteReader(Array(try r.slice(strings.offset, strings.size, "string table \(strings.name)")))
        guard table.size % 24 == 0 else { throw ObjectError("symbol table \(table.name) is \(table.size) bytes, not a multiple of 24") }
        var symbols: [Symbol] = []
        symbols.reserveCapacity(Int(table.size / 24))
        for i in 0 ..< Int(table.size / 24) {
            let at = Int(table.offset) + i * 24
            let what = "symbol \(i)"
            symbols.append(Symbol(name: try names.cString(Int(try r.u32(at, what)), "name of symbol \(i)"),
                                  info: try r.u8(at + 4, what), sectionIndex: try r.u16(at + 6, what),
                                  value: try r.u64(at + 8, what), size: try r.u64(at + 16, what)))
        }
        return symbols
    }

    /// The bytes of a section (zeros for `SHT_NOBITS`).
    public func contents(_ section: Section) throws(ObjectError) -> [UInt8] {
        if section.hasNoBits {
            guard section.size <= Self.maxZeroedSection else {
                throw ObjectError("section \(section.name) is \(section.size) bytes, more than the \(Self.maxZeroedSection >> 20) MiB this loader gives a zeroed section")
            }
            return [UInt8](repeating: 0, count: Int(section.size))
        }
        return Array(try reader.slice(section.offset, section.size, "section \(section.name)"))
    }

    public func section(named name: String) -> Section? { sections.first { $0.name == name } }

    /// The `SHT_REL` relocations that apply to section `index`, each symbol index checked.
    public func relocations(for index: Int) throws(ObjectError) -> [Relocation] {
        var out: [Relocation] = []
        for table in sections where table.type == Self.typeRel && Int(table.info) == index {
            guard table.size % 16 == 0 else { throw ObjectError("relocation section \(table.name) is \(table.size) bytes, not a multiple of 16") }
            for i in 0 ..< Int(table.size / 16) {
                let at = Int(table.offset) + i * 16
                let info = try reader.u64(at + 8, "relocation \(i) of \(table.name)")
                let symbol = Int(info >> 32)
                guard symbol < symbols.count else {
                    throw ObjectError("relocation \(i) of \(table.name) names symbol \(symbol), past the \(symbols.count) symbols")
                }
                out.append(Relocation(offset: try reader.u64(at, "relocation \(i) of \(table.name)"), symbolIndex: symbol,
                                      type: UInt32(truncatingIfNeeded: info)))
            }
        }
        return out
    }

    /// The file offset of function `name` (`.symtab` or `.dynsym`), as libbpf computes uprobe
    /// offsets: the symbol's address minus its section's address plus the section's file offset.
    public func fileOffset(ofFunction name: String) throws(ObjectError) -> UInt64 {
        var candidates = symbols
        if let dynamic = sections.first(where: { $0.type == Self.typeDynsym }), dynamic.index != sections.first(where: { $0.type == Self.typeSymtab })?.index ?? -1 {
            candidates += (try? Self.readSymbols(dynamic, in: sections, reader)) ?? []
        }
        guard let symbol = candidates.first(where: { $0.isFunction && $0.name == name && $0.sectionIndex != 0 && Int($0.sectionIndex) < sections.count }) else {
            throw ObjectError("no function \"\(name)\" in the symbol tables")
        }
        let section = sections[Int(symbol.sectionIndex)]
        guard symbol.value >= section.address, symbol.value - section.address <= section.size else {
            throw ObjectError("function \"\(name)\" lies outside its section \(section.name)")
        }
        return symbol.value - section.address + section.offset
    }
}

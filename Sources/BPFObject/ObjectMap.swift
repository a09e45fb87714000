import BPFModel

/// A map an object defines: a BTF-defined (`.maps`) or legacy (`maps`) map, or a global data
/// section (`.rodata*`, `.data*`, `.bss*`) as the one-entry array map libbpf makes of it.
public struct ObjectMap: Equatable, Sendable {
    /// The name the runtime sees (at most 15 characters, like the kernel's `map_name`).
    public var name: String
    /// The ELF section that defines it.
    public var section: String
    public var attributes: MapAttributes
    /// Global data: the value of entry 0 (the section's bytes, with `--set` values applied).
    public var initialValue: [UInt8]?
    /// Prog-array slots set by `__array(values, ...)`: slot → index into `BPFObject.programs`.
    public var initialPrograms: [UInt32: Int] = [:]

    /// The symbol or section relocations name this map by.
    var symbol: String
    var sectionIndex: Int

    /// `BPF_F_RDONLY_PROG`: programs may read but not write (`.rodata`).
    public static let readOnlyForPrograms: UInt64 = 1 << 7
    /// `BPF_F_MMAPABLE`, which libbpf sets on global data maps.
    public static let mappable: UInt64 = 1 << 10
    static let nameLength = 15
}

/// Reads the three kinds of map definition.
struct MapReader {
    let elf: ELFFile
    let btf: BTF?
    let objectName: String
    let possibleCPUs: Int

    func maps() throws(ObjectError) -> [ObjectMap] {
        var maps: [ObjectMap] = []
        if let section = elf.section(named: ".maps") { maps += try btfMaps(section) }
        if let section = elf.section(named: "maps") { maps += try legacyMaps(section) }
        for section in elf.sections where Self.isGlobalData(section.name) && !section.isExecutable && section.size > 0 {
            maps.append(try globalData(section))
        }
        var seen = Set<String>()
        for map in maps where !seen.insert(map.name).inserted {
            throw ObjectError("two maps are named \"\(map.name)\" (names are cut to \(ObjectMap.nameLength) characters)")
        }
        return maps
    }

    static func isGlobalData(_ name: String) -> Bool {
        [".rodata", ".data", ".bss"].contains { name == $0 || name.hasPrefix($0 + ".") }
    }

    // MARK: BTF-defined maps

    private func btfMaps(_ section: ELFFile.Section) throws(ObjectError) -> [ObjectMap] {
        guard let btf else { throw ObjectError("section .maps needs .BTF to describe its maps, and the object has none (compile with -g)") }
        guard let datasec = btf.dataSection(named: ".maps") else { throw ObjectError(".BTF describes no .maps data section") }
        let relocations = try elf.relocations(for: section.index)
        var maps: [ObjectMap] = []
        for entry in datasec.members {
            let variable = try btf.type(entry.type)
            guard variable.kind == .variable else { throw ObjectError(".maps entry of type \(entry.type) is not a variable") }
            let name = variable.name
            let definition = try btf.resolved(variable.sizeOrType).type
            guard definition.kind == .structure else { throw ObjectError("map \(name): its definition is not a struct") }
            var fields: [String: UInt64] = [:]
            var valueSlots: (offset: UInt32, count: UInt32)?
            for member in definition.members {
                switch member.name {
                case "type", "max_entries", "map_flags", "key_size", "value_size", "numa_node", "map_extra", "pinning":
                    fields[member.name] = try uintField(member, map: name)
                case "key", "value":
                    let pointer = try btf.resolved(member.type).type
                    guard pointer.kind == .pointer else { throw ObjectError("map \(name): \(member.name) is not a __type(...) pointer") }
                    let size = try btf.size(pointer.sizeOrType)
                    if let given = fields[member.name + "_size"], given != size {
                        throw ObjectError("map \(name): \(member.name)_size \(given) disagrees with the \(member.name) type's size \(size)")
                    }
                    fields[member.name + "_size"] = size
                case "values":
                    let array = try btf.resolved(member.type).type
                    guard array.kind == .array else { throw ObjectError("map \(name): values is not an __array(...)") }
                    valueSlots = (member.offset / 8, array.elementCount)
                    fields["value_size"] = 4 // program fds, as libbpf sets it
                default:
                    throw ObjectError("map \(name): unsupported map attribute \"\(member.name)\"")
                }
            }
            guard (fields["pinning"] ?? 0) == 0 else { throw ObjectError("map \(name): pinning is not supported") }
            guard let type = fields["type"] else { throw ObjectError("map \(name): no map type") }
            var map = try makeMap(name: name, symbol: name, section: section, type: type, keySize: fields["key_size"],
                                  valueSize: fields["value_size"], maxEntries: fields["max_entries"],
                                  flags: fields["map_flags"] ?? 0, extra: fields["map_extra"] ?? 0)
            if valueSlots != nil {
                guard map.attributes.kind == .progArray else { throw ObjectError("map \(name): initial values are supported for prog_array maps only") }
                // The symbol's size covers the initialised slots past the struct's empty array.
                let size = elf.symbols.first { Int($0.sectionIndex) == section.index && $0.name == name }?.size ?? 0
                let start = UInt64(entry.offset) + UInt64(valueSlots?.offset ?? 0)
                map.initialPrograms = try programSlots(in: start ..< max(start, UInt64(entry.offset) + size), relocations, map: name)
            }
            maps.append(map)
        }
        return maps
    }

    /// `__uint(name, N)`: a pointer to an array of N elements.
    private func uintField(_ member: BTF.Member, map: String) throws(ObjectError) -> UInt64 {
        guard let btf else { return 0 }
        let pointer = try btf.resolved(member.type).type
        guard pointer.kind == .pointer else { throw ObjectError("map \(map): \(member.name) is not a __uint(...) field") }
        let array = try btf.resolved(pointer.sizeOrType).type
        guard array.kind == .array else { throw ObjectError("map \(map): \(member.name) is not a __uint(...) field") }
        return UInt64(array.elementCount)
    }

    /// The relocations into a map's `values` array (`bytes` of `.maps`): the function each slot
    /// names, as a symbol index (`BPFObject` turns it into a program index).
    private func programSlots(in bytes: Range<UInt64>, _ relocations: [ELFFile.Relocation], map: String) throws(ObjectError) -> [UInt32: Int] {
        var slots: [UInt32: Int] = [:]
        for relocation in relocations where bytes.contains(relocation.offset) {
            let slot = (relocation.offset - bytes.lowerBound) / 8
            guard slot <= UInt64(UInt32.max) else { continue }
            let symbol = elf.symbols[relocation.symbolIndex]
            guard symbol.isFunction else { throw ObjectError("map \(map): slot \(slot) names \"\(symbol.name)\", not a program") }
            slots[UInt32(slot)] = relocation.symbolIndex
        }
        return slots
    }

    // MARK: Legacy maps

    private func legacyMaps(_ section: ELFFile.Section) throws(ObjectError) -> [ObjectMap] {
        let symbols = elf.symbols.filter { Int($0.sectionIndex) == section.index && !$0.isSection && !$0.name.isEmpty }
        guard !symbols.isEmpty else { return [] }
        let definitionSize = section.size / UInt64(symbols.count)
        guard definitionSize >= 20, section.size % UInt64(symbols.count) == 0 else {
            throw ObjectError("section maps: \(section.size) bytes do not hold \(symbols.count) map definitions")
        }
        let bytes = ByteReader(try elf.contents(section))
        return try symbols.map { symbol throws(ObjectError) in
            guard symbol.value % definitionSize == 0 else { throw ObjectError("map \(symbol.name): misplaced definition in section maps") }
            let at = try bytes.range(symbol.value, definitionSize, "map \(symbol.name)").lowerBound
            guard bytes.bytes[at + 20 ..< at + Int(definitionSize)].allSatisfy({ $0 == 0 }) else { throw ObjectError("map \(symbol.name): unsupported fields after map_flags in its definition") }
            func field(_ i: Int) throws(ObjectError) -> UInt64 { UInt64(try bytes.u32(at + 4 * i, "map \(symbol.name)")) }
            return try makeMap(name: symbol.name, symbol: symbol.name, section: section, type: try field(0), keySize: try field(1),
                               valueSize: try field(2), maxEntries: try field(3), flags: try field(4), extra: 0)
        }
    }

    // MARK: Global data

    private func globalData(_ section: ELFFile.Section) throws(ObjectError) -> ObjectMap {
        guard section.size <= UInt64(UInt32.max) else { throw ObjectError("section \(section.name) is too large for a map value") }
        let readOnly = section.name.hasPrefix(".rodata")
        let attributes = MapAttributes(mapType: MapKind.array.linuxType, keySize: 4, valueSize: UInt32(section.size), maxEntries: 1,
                                       flags: ObjectMap.mappable | (readOnly ? ObjectMap.readOnlyForPrograms : 0))
        return ObjectMap(name: BPFObject.internalMapName(objectName, section.name), section: section.name, attributes: attributes,
                         initialValue: try elf.contents(section), symbol: section.name, sectionIndex: section.index)
    }

}

extension BPFObject {
    /// libbpf's `internal_map_name`: up to 8 characters of the object's name, then the section
    /// name (7 characters reserved even when shorter); a section name with a second dot is used
    /// alone; characters the kernel refuses become `_`.
    public static func internalMapName(_ objectName: String, _ section: String) -> String {
        let limit = ObjectMap.nameLength + 1
        let suffixLength = min(max(7, section.utf8.count), limit - 1)
        let prefixLength = section.dropFirst().contains(".") ? 0 : min(limit - suffixLength - 1, objectName.utf8.count)
        let name = Array(objectName.utf8.prefix(prefixLength)) + Array(section.utf8.prefix(suffixLength))
        return String(decoding: name.prefix(limit - 1).map { c in
            (c >= 0x30 && c <= 0x39) || (c | 0x20 >= 0x61 && c | 0x20 <= 0x7a) || c == 0x5f || c == 0x2e ? c : 0x5f
        }, as: UTF8.self)
    }
}

extension MapReader {
    // MARK: Common

    private func makeMap(name: String, symbol: String, section: ELFFile.Section, type: UInt64, keySize: UInt64?, valueSize: UInt64?,
                         maxEntries: UInt64?, flags: UInt64, extra: UInt64) throws(ObjectError) -> ObjectMap {
        guard let type32 = UInt32(exactly: type), let kind = MapKind(mapType: type32) else {
            throw ObjectError("map \(name): unknown map type \(type)")
        }
        var key = keySize, value = valueSize, entries = maxEntries
        if kind == .perfEventArray {
            // libbpf's defaults: fd-sized keys and values, one slot per possible CPU.
            key = key ?? 4
            value = value ?? 4
            if entries == nil || entries == 0 { entries = UInt64(possibleCPUs) }
        }
        func fits(_ v: UInt64?, _ field: String) throws(ObjectError) -> UInt32 {
            guard let n = UInt32(exactly: v ?? 0) else { throw ObjectError("map \(name): \(field) \(v ?? 0) is too large") }
            return n
        }
        let attributes = MapAttributes(mapType: type32, keySize: try fits(key, "key_size"), valueSize: try fits(value, "value_size"),
                                       maxEntries: try fits(entries, "max_entries"), flags: flags, mapExtra: extra)
        return ObjectMap(name: String(name.prefix(ObjectMap.nameLength)), section: section.name, attributes: attributes,
                         symbol: symbol, sectionIndex: section.index)
    }
}

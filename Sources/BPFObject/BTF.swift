/// The `.BTF` section: type records and their names, enough to read BTF-defined maps, the
/// sizes of global variables and the types CO-RE relocations name. Type references are
/// followed with a depth limit, so a recursive or dangling type is an error, not a hang.
struct BTF {
    enum Kind: UInt8 {
        case int = 1, pointer, array, structure, union, enumeration, forward, typedef, volatile, const, restrict
        case function, functionPrototype, variable, dataSection, float, declTag, typeTag, enum64
    }

    struct Member { var name: String; var type: UInt32; var offset: UInt32 }

    struct TypeRecord {
        var kind: Kind
        var name: String
        /// Size for int/struct/union/enum/float/datasec; the referenced type for the others.
        var sizeOrType: UInt32
        /// Struct/union members, datasec entries (`offset` = byte offset, name empty).
        var members: [Member] = []
        /// Arrays: element type and count.
        var element: UInt32 = 0
        var elementCount: UInt32 = 0
    }

    static let magic: UInt16 = 0xeb9f
    static let maxDepth = 32

    /// Index 0 is `void`.
    private(set) var types: [TypeRecord?] = [nil]

    init(_ bytes: [UInt8]) throws(ObjectError) {
        let r = ByteReader(bytes)
        guard try r.u16(0, ".BTF header") == Self.magic else { throw ObjectError(".BTF: bad magic") }
        let headerLength = Int(try r.u32(4, ".BTF header"))
        let typeStart = UInt64(headerLength) + UInt64(try r.u32(8, ".BTF header"))
        let typeLength = UInt64(try r.u32(12, ".BTF header"))
        let stringStart = UInt64(headerLength) + UInt64(try r.u32(16, ".BTF header"))
        let stringLength = UInt64(try r.u32(20, ".BTF header"))
        let typeBytes = ByteReader(Array(try r.slice(typeStart, typeLength, ".BTF type section")))
        let strings = ByteReader(Array(try r.slice(stringStart, stringLength, ".BTF string section")))
        var at = 0
        while at < typeBytes.count {
            let id = types.count
            func name(_ offset: UInt32) throws(ObjectError) -> String { try strings.cString(Int(offset), ".BTF type \(id) name") }
            let info = try typeBytes.u32(at + 4, ".BTF type \(id)")
            guard let kind = Kind(rawValue: UInt8((info >> 24) & 0x1f)) else {
                throw ObjectError(".BTF type \(id): unknown kind \((info >> 24) & 0x1f)")
            }
            let count = Int(info & 0xffff)
            var record = TypeRecord(kind: kind, name: try name(try typeBytes.u32(at, ".BTF type \(id)")),
                                    sizeOrType: try typeBytes.u32(at + 8, ".BTF type \(id)"))
            at += 12
            switch kind {
            case .int, .variable, .declTag:
                at += 4
            case .array:
                record.element = try typeBytes.u32(at, ".BTF array \(id)")
                record.elementCount = try typeBytes.u32(at + 8, ".BTF array \(id)")
                at += 12
            case .structure, .union:
                for i in 0 ..< count {
                    let m = at + i * 12
                    let raw = try typeBytes.u32(m + 8, ".BTF member of type \(id)")
                    // With kind_flag set, the offset's low 24 bits are the bit offset.
                    record.members.append(Member(name: try name(try typeBytes.u32(m, ".BTF member of type \(id)")),
                                                 type: try typeBytes.u32(m + 4, ".BTF member of type \(id)"),
                                                 offset: info & 0x8000_0000 != 0 ? raw & 0xff_ffff : raw))
                }
                at += count * 12
            case .dataSection:
                for i in 0 ..< count {
                    let m = at + i * 12
                    record.members.append(Member(name: "", type: try typeBytes.u32(m, ".BTF datasec \(id)"),
                                                 offset: try typeBytes.u32(m + 4, ".BTF datasec \(id)")))
                }
                at += count * 12
            case .enumeration, .functionPrototype:
                at += count * 8
            case .enum64:
                at += count * 12
            case .pointer, .forward, .typedef, .volatile, .const, .restrict, .function, .float, .typeTag:
                break
            }
            guard at <= typeBytes.count else { throw ObjectError(".BTF type \(id) runs past the type section") }
            types.append(record)
        }
    }

    func type(_ id: UInt32) throws(ObjectError) -> TypeRecord {
        guard Int(id) < types.count, let t = types[Int(id)] else { throw ObjectError(".BTF: type \(id) does not exist") }
        return t
    }

    /// The type behind typedefs, qualifiers, type tags and variables.
    func resolved(_ id: UInt32) throws(ObjectError) -> (id: UInt32, type: TypeRecord) {
        var current = id
        for _ in 0 ..< Self.maxDepth {
            let t = try type(current)
            switch t.kind {
            case .typedef, .volatile, .const, .restrict, .typeTag, .variable: current = t.sizeOrType
            default: return (current, t)
            }
        }
        throw ObjectError(".BTF: type \(id) refers to itself (or nests more than \(Self.maxDepth) deep)")
    }

    /// The byte size of type `id`.
    func size(_ id: UInt32, depth: Int = 0) throws(ObjectError) -> UInt64 {
        guard depth < Self.maxDepth else { throw ObjectError(".BTF: type \(id) refers to itself (or nests more than \(Self.maxDepth) deep)") }
        let (_, t) = try resolved(id)
        switch t.kind {
        case .int, .structure, .union, .enumeration, .enum64, .float, .dataSection: return UInt64(t.sizeOrType)
        case .pointer: return 8
        case .array:
            let (product, overflow) = try size(t.element, depth: depth + 1).multipliedReportingOverflow(by: UInt64(t.elementCount))
            guard !overflow, product <= UInt64(UInt32.max) else { throw ObjectError(".BTF: array type \(id) is too large") }
            return product
        default: throw ObjectError(".BTF: type \(id) (\(t.kind)) has no size")
        }
    }

    /// The data section record named `name`, if any.
    func dataSection(named name: String) -> TypeRecord? {
        types.lazy.compactMap { $0 }.first { $0.kind == .dataSection && $0.name == name }
    }
}

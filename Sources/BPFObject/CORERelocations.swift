import BPFModel

/// CO-RE relocations from `.BTF.ext`, resolved against the target this runtime offers: the
/// fields of x86-64 `struct pt_regs`. Anything else is refused naming the section and
/// instruction.
struct CORERelocation {
    var section: String
    var instruction: Int
    var typeID: UInt32
    var access: String
    var kind: UInt32

    static let fieldByteOffset: UInt32 = 0, fieldByteSize: UInt32 = 1, fieldExists: UInt32 = 2

    /// Reads the `core_relo` records of a `.BTF.ext` section (none when it has no such part).
    static func read(_ bytes: [UInt8], strings btf: [UInt8]) throws(ObjectError) -> [CORERelocation] {
        let r = ByteReader(bytes)
        guard try r.u16(0, ".BTF.ext header") == BTF.magic else { throw ObjectError(".BTF.ext: bad magic") }
        let headerLength = Int(try r.u32(4, ".BTF.ext header"))
        guard headerLength >= 32 else { return [] }
        let start = UInt64(headerLength) + UInt64(try r.u32(24, ".BTF.ext header"))
        let length = UInt64(try r.u32(28, ".BTF.ext header"))
        guard length > 0 else { return [] }
        let part = ByteReader(Array(try r.slice(start, length, ".BTF.ext core_relo")))
        let strings = try BTFStrings(btf)
        let recordSize = Int(try part.u32(0, ".BTF.ext core_relo"))
        guard recordSize >= 16 else { throw ObjectError(".BTF.ext: CO-RE record size \(recordSize) is below 16") }
        var out: [CORERelocation] = []
        var at = 4
        while at < part.count {
            let section = try strings.string(try part.u32(at, ".BTF.ext core_relo"))
            let count = Int(try part.u32(at + 4, ".BTF.ext core_relo"))
            at += 8
            guard count <= (part.count - at) / recordSize else { throw ObjectError(".BTF.ext: \(count) CO-RE records of \(section) run past the section") }
            for i in 0 ..< count {
                let rec = at + i * recordSize
                let offset = try part.u32(rec, ".BTF.ext record")
                guard offset % 8 == 0 else { throw ObjectError(".BTF.ext: CO-RE record of \(section) at byte \(offset), not an instruction boundary") }
                out.append(CORERelocation(section: section, instruction: Int(offset / 8), typeID: try part.u32(rec + 4, ".BTF.ext record"),
                                          access: try strings.string(try part.u32(rec + 8, ".BTF.ext record")),
                                          kind: try part.u32(rec + 12, ".BTF.ext record")))
            }
            at += count * recordSize
        }
        return out
    }

    /// The value the instruction gets: a `struct pt_regs` field's offset, size or existence.
    func value(in btf: BTF) throws(ObjectError) -> Int64 {
        let place = "section \(section), instruction \(instruction)"
        let root = try btf.resolved(typeID).type
        guard root.kind == .structure, root.name == "pt_regs" else {
            throw ObjectError("\(place): CO-RE relocation on type \"\(root.name)\" is not supported (only struct pt_regs fields)")
        }
        let steps = access.split(separator: ":").map { Int($0) }
        guard steps.count == 2, steps[0] == 0, let member = steps[1], member >= 0, member < root.members.count else {
            throw ObjectError("\(place): CO-RE access \"\(access)\" into struct pt_regs is not a single field")
        }
        let name = root.members[member].name
        let offset = X86PTRegs.offset(of: name)
        switch kind {
        case Self.fieldExists: return offset == nil ? 0 : 1
        case Self.fieldByteOffset, Self.fieldByteSize:
            guard let offset else { throw ObjectError("\(place): struct pt_regs has no field \"\(name)\" on x86-64") }
            return Int64(kind == Self.fieldByteSize ? X86PTRegs.fieldSize : offset)
        default:
            throw ObjectError("\(place): CO-RE relocation kind \(kind) on pt_regs.\(name) is not supported")
        }
    }

    /// Writes `value` into the instruction as libbpf patches CO-RE relocations.
    func patch(_ code: inout [UInt8], value: Int64) throws(ObjectError) {
        let place = "section \(section), instruction \(instruction)"
        let at = instruction * 8
        guard at + 8 <= code.count else { throw ObjectError("\(place): CO-RE relocation is past the section's end") }
        switch code[at] & 0x07 {
        case 0x04, 0x07: // ALU, ALU64 with an immediate
            guard code[at] & 0x08 == 0 else { throw ObjectError("\(place): CO-RE relocation on a register operation") }
            Code.setImmediate(&code, at, Int32(value))
        case 0x01, 0x02, 0x03: // LDX, ST, STX: the offset field
            guard let offset = Int16(exactly: value) else { throw ObjectError("\(place): CO-RE offset \(value) does not fit") }
            code[at + 2] = UInt8(truncatingIfNeeded: offset)
            code[at + 3] = UInt8(truncatingIfNeeded: offset >> 8)
        case 0x00 where code[at] == 0x18 && at + 16 <= code.count:
            Code.setImmediate(&code, at, Int32(truncatingIfNeeded: value))
            Code.setImmediate(&code, at + 8, Int32(truncatingIfNeeded: value >> 32))
        default:
            throw ObjectError("\(place): CO-RE relocation on opcode 0x\(String(code[at], radix: 16)) is not supported")
        }
    }
}

/// The string part of `.BTF`, which `.BTF.ext` names sections and access strings in.
struct BTFStrings {
    let strings: ByteReader
    init(_ btf: [UInt8]) throws(ObjectError) {
        let r = ByteReader(btf)
        let start = UInt64(try r.u32(4, ".BTF header")) + UInt64(try r.u32(16, ".BTF header"))
        strings = ByteReader(Array(try r.slice(start, UInt64(try r.u32(20, ".BTF header")), ".BTF string section")))
    }
    func string(_ offset: UInt32) throws(ObjectError) -> String { try strings.cString(Int(offset), ".BTF.ext string") }
}

/// Field access on raw instruction bytes.
enum Code {
    static func immediate(_ code: [UInt8], _ at: Int) -> Int32 {
        Int32(bitPattern: UInt32(code[at + 4]) | UInt32(code[at + 5]) << 8 | UInt32(code[at + 6]) << 16 | UInt32(code[at + 7]) << 24)
    }
    static func setImmediate(_ code: inout [UInt8], _ at: Int, _ value: Int32) {
        let v = UInt32(bitPattern: value)
        for i in 0 ..< 4 { code[at + 4 + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) }
    }
    static func source(_ code: [UInt8], _ at: Int) -> UInt8 { code[at + 1] >> 4 }
    static func setSource(_ code: inout [UInt8], _ at: Int, _ source: UInt8) {
        code[at + 1] = code[at + 1] & 0x0f | source << 4
    }
}

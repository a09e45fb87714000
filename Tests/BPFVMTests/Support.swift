import Foundation
import Testing
import TestSupport
import BPFModel
@testable import BPFVM

func bytes(hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var chars = hex.makeIterator()
    while let a = chars.next(), let b = chars.next() { out.append(UInt8(String([a, b]), radix: 16) ?? 0) }
    return out
}

struct AssemblyError: Error, CustomStringConvertible { let description: String }

/// A small assembler for the syntax the disassembler prints (the conformance `.data` syntax with
/// numeric `+N` jump offsets), so tests read as assembly and round-trip the disassembler.
enum TestAssembler {
    static let alu: [String: UInt8] = ["add": 0x00, "sub": 0x10, "mul": 0x20, "div": 0x30, "or": 0x40, "and": 0x50,
                                      "lsh": 0x60, "rsh": 0x70, "mod": 0x90, "xor": 0xa0, "mov": 0xb0, "arsh": 0xc0]
    static let jumps: [String: UInt8] = ["jeq": 0x10, "jgt": 0x20, "jge": 0x30, "jset": 0x40, "jne": 0x50, "jsgt": 0x60,
                                        "jsge": 0x70, "jlt": 0xa0, "jle": 0xb0, "jslt": 0xc0, "jsle": 0xd0]
    static let sizes: [String: UInt8] = ["w": 0x00, "h": 0x08, "b": 0x10, "dw": 0x18]
    static let atomics: [String: Int32] = ["add": 0x00, "or": 0x40, "and": 0x50, "xor": 0xa0, "xchg": 0xe1, "cmpxchg": 0xf1]

    static func program(_ text: String) throws -> Program { Program(instructions: try assemble(text)) }

    static func assemble(_ text: String) throws -> [Instruction] {
        var out: [Instruction] = []
        for raw in text.split(separator: "\n") {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                .trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            out += try instruction(line)
        }
        return out
    }

    static func register(_ s: Substring) throws -> UInt8 {
        guard s.hasPrefix("%r"), let n = UInt8(s.dropFirst(2)), n < 16 else { throw AssemblyError(description: "bad register \(s)") }
        return n
    }

    static func number(_ s: Substring) throws -> Int64 {
        let neg = s.hasPrefix("-")
        var body = s.hasPrefix("-") || s.hasPrefix("+") ? s.dropFirst() : s
        var radix = 10
        if body.hasPrefix("0x") { body = body.dropFirst(2); radix = 16 }
        guard let v = UInt64(body, radix: radix) else { throw AssemblyError(description: "bad number \(s)") }
        return neg ? 0 &- Int64(bitPattern: v) : Int64(bitPattern: v)
    }

    static func imm(_ s: Substring) throws -> Int32 { Int32(truncatingIfNeeded: try number(s)) }

    /// `[%rN+off]` or `[%rN-off]` or `[%rN]`.
    static func memory(_ s: Substring) throws -> (UInt8, Int16) {
        let inner = s.dropFirst().dropLast()
        if let sign = inner.firstIndex(where: { $0 == "+" || $0 == "-" }) {
            return (try register(inner[..<sign]), Int16(truncatingIfNeeded: try number(inner[sign...])))
        }
        return (try register(inner), 0)
    }

    static func instruction(_ line: String) throws -> [Instruction] {
        var parts = line.split(separator: " ", maxSplits: 1).map { $0 }
        var m = String(parts[0])
        let rest = parts.count > 1 ? parts[1] : ""
        var ops = rest.split(separator: ",").map { Substring($0.trimmingCharacters(in: .whitespaces)) }
        if m == "lock" {
            var words = rest.split(separator: " ", maxSplits: 1)
            var fetch = false
            if words.first == "fetch" { fetch = true; words = words[1].split(separator: " ", maxSplits: 1) }
            var name = String(words[0])
            let is32 = name.hasSuffix("32")
            if is32 { name.removeLast(2) }
            ops = words[1].split(separator: ",").map { Substring($0.trimmingCharacters(in: .whitespaces)) }
            let (dst, off) = try memory(ops[0])
            guard let op = atomics[name] else { throw AssemblyError(description: "bad atomic \(name)") }
            return [Instruction(opcode: is32 ? 0xc3 : 0xdb, dst: dst, src: try register(ops[1]), offset: off,
                                imm: op | (fetch ? 1 : 0))]
        }
        parts = []
        switch m {
        case "exit": return [Instruction(opcode: 0x95)]
        case "ja": return [Instruction(opcode: 0x05, offset: Int16(try number(ops[0])))]
        case "ja32": return [Instruction(opcode: 0x06, imm: try imm(ops[0]))]
        case "call":
            let arg = ops[0]
            if arg.hasPrefix("%") { return [Instruction(opcode: 0x8d, dst: try register(arg))] }
            if arg.hasPrefix("local ") { return [Instruction(opcode: 0x85, src: 1, imm: try imm(arg.dropFirst(6)))] }
            return [Instruction(opcode: 0x85, imm: try imm(arg))]
        case "lddw":
            let dst = try register(ops[0])
            if ops[1].hasPrefix("map_fd ") {
                return [Instruction(opcode: 0x18, dst: dst, src: 1, imm: try imm(ops[1].dropFirst(7))), Instruction(opcode: 0)]
            }
            if ops[1].hasPrefix("map_value ") {
                let spec = ops[1].dropFirst(10)
                let sign = spec.firstIndex(where: { $0 == "+" || $0 == "-" }) ?? spec.endIndex
                let off = sign == spec.endIndex ? 0 : try imm(spec[sign...])
                return [Instruction(opcode: 0x18, dst: dst, src: 2, imm: try imm(spec[..<sign])), Instruction(opcode: 0, imm: off)]
            }
            let v = UInt64(bitPattern: try number(ops[1]))
            return [Instruction(opcode: 0x18, dst: dst, imm: Int32(truncatingIfNeeded: v)),
                    Instruction(opcode: 0, imm: Int32(truncatingIfNeeded: v >> 32))]
        default: break
        }
        if m.hasPrefix("ldx") {
            var size = String(m.dropFirst(3)), mode: UInt8 = 0x60
            if size.hasPrefix("s") { size.removeFirst(); mode = 0x80 }
            guard let sz = sizes[size] else { throw AssemblyError(description: "bad load \(m)") }
            let (src, off) = try memory(ops[1])
            return [Instruction(opcode: 0x01 | mode | sz, dst: try register(ops[0]), src: src, offset: off)]
        }
        if m.hasPrefix("stx"), let sz = sizes[String(m.dropFirst(3))] {
            let (dst, off) = try memory(ops[0])
            return [Instruction(opcode: 0x63 | sz, dst: dst, src: try register(ops[1]), offset: off)]
        }
        if m.hasPrefix("st"), let sz = sizes[String(m.dropFirst(2))] {
            let (dst, off) = try memory(ops[0])
            return [Instruction(opcode: 0x62 | sz, dst: dst, offset: off, imm: try imm(ops[1]))]
        }
        for (prefix, opcode) in [("bswap", UInt8(0xd7)), ("le", 0xd4), ("be", 0xdc)] where m.hasPrefix(prefix) {
            if let width = Int32(m.dropFirst(prefix.count)) {
                return [Instruction(opcode: opcode, dst: try register(ops[0]), imm: width)]
            }
        }
        var is32 = false
        if m.hasPrefix("movsx") {
            is32 = m.hasSuffix("32")
            let width = Int16(m.dropFirst(5).dropLast(2)) ?? 0
            return [Instruction(opcode: is32 ? 0xbc : 0xbf, dst: try register(ops[0]), src: try register(ops[1]), offset: width)]
        }
        if m.hasSuffix("32") { is32 = true; m.removeLast(2) }
        if m == "neg" { return [Instruction(opcode: is32 ? 0x84 : 0x87, dst: try register(ops[0]))] }
        var offset: Int16 = 0
        if m == "sdiv" || m == "smod" { offset = 1; m.removeFirst() }
        let dst = try register(ops[0])
        let x = ops[1].hasPrefix("%")
        let src = x ? try register(ops[1]) : 0
        let k = x ? 0 : try imm(ops[1])
        if let op = alu[m] {
            return [Instruction(opcode: (is32 ? 0x04 : 0x07) | op | (x ? 0x08 : 0), dst: dst, src: src, offset: offset, imm: k)]
        }
        if let op = jumps[m] {
            return [Instruction(opcode: (is32 ? 0x06 : 0x05) | op | (x ? 0x08 : 0), dst: dst, src: src,
                                offset: Int16(truncatingIfNeeded: try number(ops[2])), imm: k)]
        }
        throw AssemblyError(description: "unknown mnemonic \(m)")
    }
}

/// A conformance helper table: helper 5 returns its r1 (what the suite's runner provides).
func conformanceHelpers() -> HelperTable {
    let table = HelperTable()
    table.register(5, name: "test_return_r1") { r1, _, _, _, _, _ in r1 }
    return table
}

/// Runs `text` on a private copy of `memory`, on both engines (see `TestMachine.run`); returns the
/// interpreter's r0 and memory afterwards. `varying`: what the engines' runs may differ in.
@discardableResult
func execute(_ text: String, memory: [UInt8] = [], maps: SegmentMaps? = nil, options: VMOptions = VMOptions(),
             cookie: UInt64 = 0, varying: TestMachine.Varying = [], sourceLocation: SourceLocation = #_sourceLocation)
    throws -> (r0: UInt64, memory: [UInt8]) {
    try TestMachine(program: try TestAssembler.program(text), maps: maps, options: options, varying: varying,
                    sourceLocation: sourceLocation).run(memory, cookie: cookie, sourceLocation: sourceLocation)
}

/// The error `text` ends with (validation or run), or nil when it runs fine.
func failure(_ text: String, memory: [UInt8] = [], maps: SegmentMaps? = nil, options: VMOptions = VMOptions(),
             varying: TestMachine.Varying = [], sourceLocation: SourceLocation = #_sourceLocation) -> VMError? {
    do {
        try execute(text, memory: memory, maps: maps, options: options, varying: varying, sourceLocation: sourceLocation)
        return nil
    } catch let error as VMError {
        return error
    } catch {
        return VMError(.malformed, "unexpected \(error)")
    }
}

/// One run of `vm` on a private copy of `memory`, on both engines.
func run(_ vm: TestMachine, _ memory: [UInt8] = [], cookie: UInt64 = 0,
         sourceLocation: SourceLocation = #_sourceLocation) throws -> UInt64 {
    try vm.run(memory, cookie: cookie, sourceLocation: sourceLocation).r0
}

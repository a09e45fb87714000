/// Ahead-of-time machine code for one program, position-independent so another process can map
/// and run it: helpers and the bounds-check slow path are reached through the run context, and
/// `lddw` map loads read a relocation table that the loader fills from its own maps. Tagged with
/// what the code depends on (a hash of the bytecode, the helper table, the call-depth limit and
/// the code ABI), so stale code is refused, never run.
///
/// Nothing can verify that machine code came from its bytecode: load images only from storage as
/// trusted as the programs themselves.
public struct AOTImage: Equatable, Sendable {
    /// Generated code's contract with its loader: a revision number, bumped when the register or
    /// calling conventions change, and the size of the context it addresses. Revision 2: entry
    /// code sets its registers from the run state, so the loader no longer writes them.
    public static let abiVersion = UInt32(2 << 16) | UInt32(MemoryLayout<JITContext>.size)

    public let bytecodeHash: UInt64
    public let helperTableVersion: UInt64
    public let maxCallDepth: UInt32
    public let abi: UInt32
    /// Slots of the `lddw` instructions whose values the relocation table holds, in order.
    public let relocations: [UInt32]
    public let code: [UInt8]

    /// Compiles `machine`'s program ahead of time (no instruction counting: AOT code runs
    /// without an instruction budget).
    public init(machine: VirtualMachine) throws {
        #if arch(x86_64)
        var compiler = JITCompiler(code: machine.entry.code, maxCallDepth: machine.options.maxCallDepth,
                                   countsInstructions: false, relocatable: true)
        code = try compiler.compile()
        relocations = compiler.relocations.map { UInt32($0) }
        bytecodeHash = Self.hash(machine.program.bytecode)
        helperTableVersion = Self.version(of: machine.options.helpers)
        maxCallDepth = UInt32(clamping: machine.options.maxCallDepth)
        abi = Self.abiVersion
        #else
        throw JITError.unsupportedArchitecture(what: "AOT compilation")
        #endif
    }

    /// Throws unless this image was made for `machine`'s bytecode, helpers and options.
    func check(for machine: VirtualMachine) throws {
        let program = machine.program
        guard abi == Self.abiVersion, bytecodeHash == Self.hash(program.bytecode),
              helperTableVersion == Self.version(of: machine.options.helpers),
              maxCallDepth == UInt32(clamping: machine.options.maxCallDepth) else {
            throw JITError.staleImage
        }
        guard machine.options.maxInstructions == nil else {
            throw JITError.imageWithBudget
        }
        for slot in relocations {
            guard Int(slot) < program.instructions.count, program.instructions[Int(slot)].isWide,
                  program.instructions[Int(slot)].src != 0 else {
                throw JITError.corruptImage("relocation at slot \(slot) is not a map load")
            }
        }
    }

    /// FNV-1a, 64-bit: stable across processes and builds.
    static func hash(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// Which helper ids are registered, under which names.
    static func version(of helpers: HelperTable) -> UInt64 {
        let text = helpers.names.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")
        return hash(Array(text.utf8))
    }

    // MARK: Bytes

    static let magic: [UInt8] = Array("BPFAOT\u{0}\u{1}".utf8)

    /// The image as bytes (little-endian): magic, bytecode hash, helper-table version, call depth,
    /// ABI, relocation count, relocations, code length, code.
    public var serialized: [UInt8] {
        var out = Self.magic
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        put(bytecodeHash)
        put(helperTableVersion)
        put(maxCallDepth)
        put(abi)
        put(UInt32(relocations.count))
        relocations.forEach { put($0) }
        put(UInt32(code.count))
        out += code
        return out
    }

    /// Parses `serialized`; throws on anything malformed or truncated.
    public init(serialized bytes: [UInt8]) throws {
        var at = 0
        func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n >= 0, bytes.count - at >= n else { throw JITError.corruptImage("truncated image") }
            defer { at += n }
            return bytes[at ..< at + n]
        }
        func get<T: FixedWidthInteger>(_: T.Type) throws -> T {
            try take(MemoryLayout<T>.size).reversed().reduce(T.zero) { $0 << 8 | T($1) }
        }
        guard try Array(take(Self.magic.count)) == Self.magic else { throw JITError.corruptImage("bad magic") }
        bytecodeHash = try get(UInt64.self)
        helperTableVersion = try get(UInt64.self)
        maxCallDepth = try get(UInt32.self)
        abi = try get(UInt32.self)
        let count = Int(try get(UInt32.self))
        guard count <= (bytes.count - at) / 4 else { throw JITError.corruptImage("truncated image") }
        relocations = try (0 ..< count).map { _ in try get(UInt32.self) }
        let length = Int(try get(UInt32.self))
        code = Array(try take(length))
        guard at == bytes.count else { throw JITError.corruptImage("trailing bytes") }
    }
}

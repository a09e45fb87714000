import BPFModel
import BPFVM

/// Programs are checked by the VM's validator before they are stored, so that a program this
/// runtime cannot run (an unknown helper, a map load of a missing map, a bad jump) is refused
/// at load time, naming the program and instruction, instead of at its first fire.
public enum ProgramCheck {
    /// Throws naming the first program of `records` the validator rejects; its map loads are
    /// resolved against `maps` (the new handlers' and the segment's).
    public static func validate(_ records: [HandlerRecord], maps: [HandlerRecord]) throws {
        let backend = MapShapes.backend(for: maps)
        for record in records {
            guard case .program(let p) = record.handler else { continue }
            do {
                try Validator(helpers: .standard(), maps: backend).validate(Program(bytecode: p.bytecode))
            } catch let reason as VMError {
                throw RuntimeError.invalidProgram(name: p.name, fd: record.fd, reason: reason)
            }
        }
    }
}

extension MapShapes {
    /// The shapes of the maps among `records`: enough to validate and compile the programs
    /// that use them.
    static func backend(for maps: [HandlerRecord]) -> MapShapes {
        var shapes: [Int32: MapInfo] = [:]
        for record in maps {
            guard case .map(let m) = record.handler, let kind = m.attributes.kind, let fd = Int32(exactly: record.fd) else { continue }
            let a = m.attributes
            shapes[fd] = MapInfo(kind: kind, keySize: Int(a.keySize), valueSize: Int(a.valueSize), maxEntries: Int(a.maxEntries))
        }
        return MapShapes(shapes)
    }
}

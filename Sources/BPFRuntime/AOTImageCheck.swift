import BPFModel
import BPFVM

/// Native code read from a file is trusted only when it is exactly what this build compiles
/// for the program's bytecode: nothing else can show that it does what the bytecode says, and
/// it runs unchecked. (Code compiled here is position-independent and deterministic, so a
/// fresh compilation reproduces it byte for byte.)
public enum AOTImageCheck {
    /// Throws naming the first program of `records` whose AOT code is not this build's for its
    /// bytecode. `maps` are the maps its `lddw`s may name (the document's and the segment's),
    /// read only when some program carries AOT code.
    public static func verify(_ records: [HandlerRecord], maps: @autoclosure () throws -> [HandlerRecord]) throws {
        let programs = records.compactMap { record -> (fd: Int, program: ProgramHandler)? in
            guard case .program(let p) = record.handler, p.aotImage != nil else { return nil }
            return (record.fd, p)
        }
        guard !programs.isEmpty else { return }
        let backend = MapShapes.backend(for: try maps())
        for (fd, p) in programs {
            let fresh = try? AOTImage(machine: VirtualMachine(program: Program(bytecode: p.bytecode), maps: backend))
            guard fresh?.serialized == p.aotImage else {
                throw RuntimeError.aotUntrusted(fd: fd)
            }
        }
    }
}

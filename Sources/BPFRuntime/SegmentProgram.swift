import BPFModel
import BPFSegment
import BPFVM

/// A program of the segment, ready to run with its maps served by the segment.
public struct SegmentProgram {
    public let fd: Int
    public let handler: ProgramHandler
    public let program: Program
    public let maps: SegmentMapBackend
    /// The segment's table generation when the handler was read, read first: writes derived
    /// from this handler are refused if the table changed since.
    public let tableGeneration: UInt64

    public init(segment: Segment, fd: Int) throws {
        tableGeneration = segment.tableGeneration
        guard case .program(let handler)? = try segment.handler(at: fd) else {
            throw RuntimeError.notAProgram(fd: fd, segment: segment.name)
        }
        self.fd = fd
        self.handler = handler
        program = try Program(bytecode: handler.bytecode)
        maps = SegmentMapBackend(segment: segment)
    }

    /// An interpreter for this program (validated first).
    public func interpreter(options: VMOptions = VMOptions()) throws -> VirtualMachine {
        try VirtualMachine(program: program, maps: maps, options: options)
    }
}

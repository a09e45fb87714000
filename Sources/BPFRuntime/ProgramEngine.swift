import BPFVM

/// Something that runs one program on an input (and, read-only, `readable`): the interpreter, or
/// compiled code.
public protocol ProgramEngine: AnyObject {
    func run(input: UnsafeMutableRawBufferPointer, cookie: UInt64, readable: UnsafeRawBufferPointer?) throws -> UInt64
}

extension VirtualMachine: ProgramEngine {}
extension JITProgram: ProgramEngine {}

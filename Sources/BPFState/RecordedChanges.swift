import BPFModel
import BPFRuntime
import BPFSegment

/// The changes of single maps and programs, each one `change` (made and recorded in one hold
/// of the segment lock).
extension RuntimeState {
    /// Runs `body` on the map at `fd` inside the change: its updates, deletes, pushes and pops
    /// are the change that is recorded.
    public func changeMap<T>(_ fd: Int, recording: Recording?, message: String? = nil,
                             _ body: (SegmentMap) throws -> T) throws -> Recorded<T> {
        try change(recording: recording, message: message) { tx in try body(tx.map(at: fd)) }
    }

    /// Compiles the program at `fd` to native code (outside the lock) and stores it beside its
    /// bytecode, refused if another process changed the handler table meanwhile.
    public func compileAOT(_ fd: Int, recording: Recording?, message: String? = nil)
        throws -> Recorded<(program: ProgramHandler, nativeBytes: Int, compileTime: Duration)> {
        let program = try SegmentProgram(segment: open(), fd: fd)
        let compiled = try program.compiledAOT()
        return try change(recording: recording, message: message) { tx in
            try tx.apply([compiled.record], replaceExisting: true, allowingDanglingAttachments: true,
                         ifTableGeneration: program.tableGeneration)
            return (program.handler, compiled.image.serialized.count, compiled.compileTime)
        }
    }
}

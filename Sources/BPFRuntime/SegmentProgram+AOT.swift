import BPFModel
import BPFSegment
import BPFVM

/// Ahead-of-time native code, kept in the segment beside the program's bytecode.
extension SegmentProgram {
    /// Compiles the program for the segment's helpers and stores the image in its handler (one
    /// apply under the segment's lock), unless another process changed the handler table since
    /// this program was read. The returned time covers compilation only.
    @discardableResult
    public func compileAOT(options: VMOptions = VMOptions()) throws -> (image: AOTImage, compileTime: Duration) {
        let compiled = try compiledAOT(options: options)
        // Only the code changes: attachments stay as they are, dangling or not.
        try maps.segment.apply([compiled.record], replaceExisting: true, allowingDanglingAttachments: true,
                               ifTableGeneration: tableGeneration)
        return (compiled.image, compiled.compileTime)
    }

    /// Compiles without storing: the image, and this program's handler record carrying it, to
    /// be applied with `ifTableGeneration: tableGeneration` by a caller with its own transaction.
    public func compiledAOT(options: VMOptions = VMOptions()) throws -> (image: AOTImage, compileTime: Duration, record: HandlerRecord) {
        let machine = try interpreter(options: options)
        let clock = ContinuousClock()
        let start = clock.now
        let image = try AOTImage(machine: machine)
        let compileTime = clock.now - start
        var stored = handler
        stored.aotImage = image.serialized
        return (image, compileTime, HandlerRecord(fd: fd, handler: .program(stored)))
    }

    /// The stored image, ready to run; refused (never run) unless it was compiled for this
    /// program's bytecode, helper table and options.
    public func aotEngine(options: VMOptions = VMOptions()) throws -> JITProgram {
        guard let bytes = handler.aotImage else {
            throw RuntimeError.aotMissing(fd: fd)
        }
        guard options.maxInstructions == nil else {
            throw RuntimeError.aotWithBudget
        }
        let machine = try interpreter(options: options)
        do {
            return try JITProgram(machine: machine, image: AOTImage(serialized: bytes))
        } catch let refusal as JITError where refusal.refusesStoredImage {
            // The image no longer matches (or is damaged): a fresh compilation fixes it.
            throw RuntimeError.aotStale(fd: fd, reason: refusal)
        }
    }
}

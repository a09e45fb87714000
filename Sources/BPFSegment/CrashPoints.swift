/// A test seam: tests stop a (child) process at a named point inside a multi-step mutation
/// and SIGKILL it there, to prove recovery. Nil in normal use, so each point costs one load.
enum CrashPoint: Sendable {
    /// A new hash entry is linked into its bucket, the count not yet updated, journal open.
    case hashEntryLinked
    /// An array value is overwritten, journal open.
    case arrayValueWritten
    /// An apply has written its in-place map changes (journal open), built nothing yet.
    case applyInPlace
    /// An apply has built its new blocks but published nothing.
    case applyBuilt
    /// An apply has published its intent and switched some slots.
    case applySwitching
}

nonisolated(unsafe) var crashPointHook: ((CrashPoint) -> Void)? = nil

@inline(__always) func crashPoint(_ point: CrashPoint) {
    if let hook = crashPointHook { hook(point) }
}

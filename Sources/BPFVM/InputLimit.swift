extension VMOptions {
    /// The largest input (`r1`'s buffer) a run accepts: 64 MiB, far beyond any packet or
    /// context bpftime passes, so that reading an endless input (`/dev/zero`) stops with an error.
    public static let maxInputBytes = 64 << 20
}

import Synchronization

extension Segment {
    /// The table generation counter itself, for a reader that polls it on a hot path (an agent
    /// checks it at every hook): one acquiring load, no call. Valid while this `Segment` lives.
    public var tableGenerationWord: UnsafeMutablePointer<Atomic<UInt64>> { base.atomic64(Header.tableGenerationAt) }
}

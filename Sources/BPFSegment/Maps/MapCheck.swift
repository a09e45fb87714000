/// The structural invariants of a map's storage, for `Segment.check()`.
extension MapStore {
    func problems() -> [String] {
        switch layout.kind {
        case .hash, .percpuHash, .lruHash, .lruPercpuHash: hashProblems()
        case .queue, .stack: sequenceProblems()
        case .ringbuf: ringProblems()
        case .array, .percpuArray, .progArray, .perfEventArray: []
        }
    }
}

/// A map's program-written mark (`MapLayout.programWrittenAt`). Values written in place through
/// a pointer a program was handed move no generation, so a recorder that saves only what a
/// change wrote must read such a map whole. Not journaled: a mark is only ever too cautious.
struct ProgramWriteMark {
    enum Level: UInt32, Comparable {
        case clean = 0
        /// A writable value pointer was handed out since the mark was last taken.
        case sinceTaken = 1
        /// A program keeps its pointer for its lifetime (its global data): never taken.
        case always = 2

        static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    let word: UnsafeMutableRawPointer

    init(_ word: UnsafeMutableRawPointer) { self.word = word }

    /// An unknown word reads as `.always`: cautious.
    var level: Level { Level(rawValue: word.u32(0)) ?? .always }

    /// Raises the mark to `level`: a load, and a store only when it rises, so that a hook
    /// handed the same value again and again leaves the cache line shared.
    @inline(__always) func raise(to level: Level) {
        if word.u32(0) < level.rawValue { word.set32(0, level.rawValue) }
    }

    /// Clears a `.sinceTaken` mark; the caller then reads the map whole, under the lock.
    func take() {
        if level == .sinceTaken { word.set32(0, Level.clean.rawValue) }
    }
}

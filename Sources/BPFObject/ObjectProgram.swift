/// A program of an object: one function of a program section, with the `.text` sub-programs it
/// calls appended, CO-RE relocations applied and its map loads pointing at `BPFObject.maps`.
public struct ObjectProgram: Equatable, Sendable {
    /// The function's name.
    public var name: String
    /// Its ELF section (`SEC(...)`), which also says where it attaches.
    public var section: String
    /// The `bpf_prog_type` libbpf gives programs of this section.
    public var type: UInt32
    /// Instructions; `lddw` map loads hold 0 until `BPFObject.records` puts the fds in.
    public var bytecode: [UInt8]
    /// The `lddw` instructions that load a map (src=1) or a global's address (src=2).
    public var mapLoads: [MapLoad]

    public struct MapLoad: Equatable, Sendable {
        public var instruction: Int
        /// Index into `BPFObject.maps`.
        public var map: Int
        /// For globals, the byte offset into the map's value; `nil` for a map load.
        public var valueOffset: Int32?
    }

    public var instructionCount: Int { bytecode.count / 8 }
}

/// `bpf_prog_type` by section prefix, as libbpf's section table assigns them.
enum ProgramSections {
    static let kprobe: UInt32 = 2, tracepoint: UInt32 = 5, rawTracepoint: UInt32 = 17
    static let socketFilter: UInt32 = 1, xdp: UInt32 = 6, perfEvent: UInt32 = 7

    static let prefixes: [(String, UInt32)] = [
        ("uprobe", kprobe), ("uretprobe", kprobe), ("uprobe.s", kprobe), ("uretprobe.s", kprobe),
        ("kprobe", kprobe), ("kretprobe", kprobe), ("usdt", kprobe), ("ksyscall", kprobe), ("kretsyscall", kprobe),
        ("tracepoint", tracepoint), ("tp", tracepoint), ("raw_tracepoint", rawTracepoint), ("raw_tp", rawTracepoint),
        ("perf_event", perfEvent), ("socket", socketFilter), ("xdp", xdp),
    ]

    static func type(of section: String) -> UInt32? {
        prefixes.first { section == $0.0 || section.hasPrefix($0.0 + "/") }?.1
    }
}

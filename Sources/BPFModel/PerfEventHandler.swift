/// `bpf_perf_event_handler`: a hook point programs attach to.
public struct PerfEventHandler: Equatable, Hashable, Sendable {
    public var event: Event
    public var enabled: Bool

    public init(event: Event, enabled: Bool = false) {
        self.event = event
        self.enabled = enabled
    }

    /// What the event hooks, with bpftime's numeric `attr.type` for each.
    public enum Event: Equatable, Hashable, Sendable {
        /// A function entry (`uprobe`, 6), return (`uretprobe`, 7) or replacement
        /// (`uprobe_override`, 1008) in `module` at `offset`.
        case uprobe(UprobeTarget)
        case uretprobe(UprobeTarget)
        case uprobeOverride(UprobeTarget)
        /// A tracepoint (2) by its id (as in /sys/kernel/tracing/events/*/*/id).
        case tracepoint(pid: Int32, tracepointID: Int32)
        /// A software perf event (1), used by perf_event_array outputs.
        case software(cpu: Int32, config: Int64, sampleType: Int32)
        /// Any other type (kprobe 8, kretprobe 9, bpftime's 1009, custom types): kept and
        /// written back as read, with its module and offset when it had them; nothing fires it.
        case opaque(type: Int32, target: UprobeTarget?)

        public var typeCode: Int32 {
            switch self {
            case .uprobe: PerfEventType.uprobe
            case .uretprobe: PerfEventType.uretprobe
            case .uprobeOverride: PerfEventType.uprobeOverride
            case .tracepoint: PerfEventType.tracepoint
            case .software: PerfEventType.software
            case .opaque(let type, _): type
            }
        }

        public var typeName: String {
            if case .opaque(let type, _) = self { return "type \(type)" }
            return Self.typeName(of: typeCode)
        }

        /// A type's name: bpftime's for the types we run, "type N" for others.
        public static func typeName(of type: Int32) -> String {
            switch type {
            case PerfEventType.uprobe: "uprobe"
            case PerfEventType.uretprobe: "uretprobe"
            case PerfEventType.uprobeOverride: "uprobe_override"
            case PerfEventType.tracepoint: "tracepoint"
            case PerfEventType.software: "software"
            default: "type \(type)"
            }
        }
    }

    public struct UprobeTarget: Equatable, Hashable, Sendable {
        public var moduleName: String
        public var offset: UInt64
        public var pid: Int32
        public var refCtrOffset: UInt64
        public init(moduleName: String, offset: UInt64, pid: Int32 = -1, refCtrOffset: UInt64 = 0) {
            self.moduleName = moduleName
            self.offset = offset
            self.pid = pid
            self.refCtrOffset = refCtrOffset
        }
    }
}

/// bpftime's `bpf_event_type` codes.
public enum PerfEventType {
    public static let software: Int32 = 1
    public static let tracepoint: Int32 = 2
    public static let uprobe: Int32 = 6
    public static let uretprobe: Int32 = 7
    public static let uprobeOverride: Int32 = 1008
    /// The types with their own event case (every other is kept opaque).
    public static let known = [software, tracepoint, uprobe, uretprobe, uprobeOverride]
}

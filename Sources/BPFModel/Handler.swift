/// One entry of a runtime's handler table, indexed by fd.
///
/// These are plain values: the segment module stores them, the JSON interchange reads and
/// writes them, the snapshot store records them. None of those modules depends on another.
public enum Handler: Equatable, Hashable, Sendable {
    case program(ProgramHandler)
    case map(MapHandler)
    case perfEvent(PerfEventHandler)
    case link(LinkHandler)
    case epoll
    case memfd(MemfdHandler)

    /// The kind, named as bpftime names it in JSON (`"type"`).
    public var kind: HandlerKind {
        switch self {
        case .program: .program
        case .map: .map
        case .perfEvent: .perfEvent
        case .link: .link
        case .epoll: .epoll
        case .memfd: .memfd
        }
    }

    /// The handler's name, where its kind has one.
    public var name: String? {
        switch self {
        case .program(let p): p.name
        case .map(let m): m.name
        case .memfd(let m): m.name
        case .perfEvent, .link, .epoll: nil
        }
    }

    /// The fds this handler refers to (attach targets, link ends): they must exist beside it.
    public var referencedFDs: [Int] {
        switch self {
        case .program(let p): p.attachments.map(\.targetFD)
        case .link(let l): [l.programFD, l.targetFD]
        case .map, .perfEvent, .epoll, .memfd: []
        }
    }
}

public enum HandlerKind: String, CaseIterable, Sendable, Codable {
    case program = "bpf_prog_handler"
    case map = "bpf_map_handler"
    case perfEvent = "bpf_perf_event_handler"
    case link = "bpf_link_handler"
    case epoll = "epoll_handler"
    case memfd = "memfd_handler"

    /// Order in which handlers of a document are applied, so that every reference points back.
    public var applyOrder: Int {
        switch self {
        case .map, .memfd, .epoll: 0
        case .program: 1
        case .perfEvent: 2
        case .link: 3
        }
    }

    /// A short word for tables.
    public var shortName: String {
        switch self {
        case .program: "prog"
        case .map: "map"
        case .perfEvent: "perf_event"
        case .link: "link"
        case .epoll: "epoll"
        case .memfd: "memfd"
        }
    }
}

/// A handler together with the fd it lives at.
public struct HandlerRecord: Equatable, Hashable, Sendable {
    public var fd: Int
    public var handler: Handler
    public init(fd: Int, handler: Handler) {
        self.fd = fd
        self.handler = handler
    }
}

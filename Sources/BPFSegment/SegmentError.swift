import Glibc

/// Everything that can go wrong with a segment, each with a message a user can act on.
public enum SegmentError: Error, CustomStringConvertible, Equatable {
    case missing(name: String)
    case alreadyExists(name: String)
    case permissionDenied(name: String)
    case invalidName(String)
    case notOwned(name: String, owner: UInt32)
    case unsafeMode(name: String, mode: UInt32)
    case noSpace(name: String, megabytes: Int)
    case notOurFormat(name: String, detail: String)
    /// An object whose header is still zero: not initialised, or being created by another process.
    case notInitialised(name: String)
    case otherLayoutVersion(name: String, found: UInt32, expected: UInt32)
    case truncated(name: String, actualBytes: Int, expectedBytes: Int)
    case corrupt(name: String, detail: String)
    case system(operation: String, errno: Int32)
    case invalidConfiguration(String)
    case full(name: String, neededBytes: Int, freeBytes: Int)
    case lockTimeout(name: String, seconds: Int)
    case lockUnrecoverable(name: String)
    case fdOutOfRange(fd: Int, maxHandlers: Int)
    case fdInUse(fd: Int, kind: String)
    case noHandler(fd: Int)
    case duplicateFD(fd: Int)
    case danglingReference(fd: Int, field: String, target: Int)
    case notAMap(fd: Int, kind: String)
    /// A prog_array's data names an fd that holds no program.
    case notAProgram(fd: Int, index: UInt32, target: Int)
    case invalidMap(fd: Int, detail: String)
    case unsupportedMapType(fd: Int, mapType: UInt32)
    case noData(fd: Int, kind: String)
    case wrongSize(fd: Int, what: String, expected: Int, actual: Int)
    case mapOperation(fd: Int, operation: String, errno: Int32)
    case stale(fd: Int)
    case tableChanged(name: String)
    /// A change that must be undoable as one step does not fit the segment's undo journal.
    case journalTooSmall(what: String, neededBytes: Int, capacity: Int)

    public var description: String {
        switch self {
        case .missing(let name):
            "no segment named \(name)"
        case .alreadyExists(let name):
            "segment \(name) already exists"
        case .permissionDenied(let name):
            "permission denied opening segment \(name) (/dev/shm/\(name)): it belongs to another user or its mode forbids access"
        case .invalidName(let name):
            "invalid segment name \"\(name)\": it must be one file name under /dev/shm (not empty, `.` or `..`, no `/`, at most \(NAME_MAX) bytes)"
        case .notOwned(let name, let owner):
            "segment \(name) (/dev/shm/\(name)) belongs to uid \(owner), not to you (uid \(geteuid())): refusing to use it"
        case .unsafeMode(let name, let mode):
            "segment \(name) (/dev/shm/\(name)) has mode \(String(mode, radix: 8)): others may write it, so it is refused; remove it and create it again"
        case .noSpace(let name, let megabytes):
            "not enough space in /dev/shm for \(megabytes) MiB (segment \(name)): free some, or set a smaller BPFTIME_SHM_MEMORY_MB"
        case .notOurFormat(let name, let detail):
            "segment \(name) is not a bpftimetool-swift segment (\(detail))"
        case .notInitialised(let name):
            "segment \(name) is not a bpftimetool-swift segment (its header is empty: not initialised, or still being created)"
        case .otherLayoutVersion(let name, let found, let expected):
            "segment \(name) has layout version \(found), this tool reads versions 1 to \(expected): export it with the matching tool version, or remove it"
        case .truncated(let name, let actual, let expected):
            "segment \(name) is truncated: \(actual) bytes, its header says \(expected)"
        case .corrupt(let name, let detail):
            "segment \(name) is corrupt: \(detail)"
        case .system(let op, let code):
            "\(op) failed: \(String(cString: strerror(code)))"
        case .invalidConfiguration(let text):
            "invalid segment configuration: \(text)"
        case .full(let name, let needed, let free):
            "segment \(name) is full: \(needed) more bytes needed, \(free) free; create a larger one (set BPFTIME_SHM_MEMORY_MB) or remove handlers"
        case .lockTimeout(let name, let seconds):
            "segment \(name): lock still held by another process after \(seconds) s (is a process stopped while holding it?)"
        case .lockUnrecoverable(let name):
            "segment \(name): its lock is unrecoverable; export what you can and recreate the segment"
        case .fdOutOfRange(let fd, let max):
            "fd \(fd) is out of range: the segment has handler slots 0..<\(max) (BPFTIME_MAX_FD_COUNT)"
        case .fdInUse(let fd, let kind):
            "fd \(fd) is already in use by a \(kind)"
        case .noHandler(let fd):
            "no handler at fd \(fd)"
        case .duplicateFD(let fd):
            "fd \(fd) is given more than once"
        case .danglingReference(let fd, let field, let target):
            "fd \(fd): \(field) refers to fd \(target), which holds no handler"
        case .notAProgram(let fd, let index, let target):
            "map at fd \(fd): prog_array slot \(index) holds fd \(target), which is not a program (a prog_array holds program fds only)"
        case .notAMap(let fd, let kind):
            "fd \(fd) is a \(kind), not a map"
        case .invalidMap(let fd, let detail):
            "map at fd \(fd): \(detail)"
        case .unsupportedMapType(let fd, let type):
            "map at fd \(fd) has map_type \(type), which this tool stores but cannot operate on"
        case .noData(let fd, let kind):
            "map at fd \(fd) is a \(kind), which holds no key/value data"
        case .wrongSize(let fd, let what, let expected, let actual):
            "map at fd \(fd): \(what) must be \(expected) bytes, got \(actual)"
        case .mapOperation(let fd, let op, let code):
            "map at fd \(fd): \(op) failed: \(Self.meaning(op: op, errno: code))"
        case .stale(let fd):
            "map at fd \(fd) was removed or replaced since it was opened"
        case .tableChanged(let name):
            "segment \(name): another process changed its handlers meanwhile; nothing was written, try again"
        case .journalTooSmall(let what, let needed, let capacity):
            "\(what) takes \(needed) bytes of undo journal, more than the segment's \(capacity): nothing was written; make the change in smaller steps"
        }
    }

    /// Kernel errno results, in the words of the bpf(2) man page.
    static func meaning(op: String, errno code: Int32) -> String {
        switch code {
        case EPERM: "the map is frozen: no writes from userspace (EPERM)"
        case ENOENT: "no such element (ENOENT)"
        case EEXIST: "element already exists (EEXIST)"
        case E2BIG: "map is full or index out of range (E2BIG)"
        case EINVAL: "invalid argument or flags (EINVAL)"
        case ENOSPC: "no space left (ENOSPC)"
        case EOPNOTSUPP: "not supported by this map type (EOPNOTSUPP)"
        case EBUSY: "segment lock unavailable (EBUSY)"
        case ESTALE: "map was removed or replaced (ESTALE)"
        case EFAULT: "map storage is corrupt (EFAULT)"
        default: String(cString: strerror(code))
        }
    }
}

import Glibc

/// One process's mapping of a POSIX shared-memory object; unmapped when the last user lets go.
final class SharedMemory: @unchecked Sendable {
    let name: String
    let base: UnsafeMutableRawPointer
    let size: Int
    /// Which object this is, to tell whether the name still refers to it.
    let identity: (dev_t, ino_t)

    private init(name: String, base: UnsafeMutableRawPointer, size: Int, identity: (dev_t, ino_t)) {
        self.name = name
        self.base = base
        self.size = size
        self.identity = identity
    }

    /// False once the name was unlinked (or now names another object): this mapping is
    /// then an orphan that no new process will see.
    var isLinked: Bool {
        let fd = shm_open("/" + name, O_RDONLY | O_CLOEXEC, 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var info = stat()
        return fstat(fd, &info) == 0 && info.st_dev == identity.0 && info.st_ino == identity.1
    }

    /// Whether `TruncationGuard` watches this mapping.
    private var guarded = false

    /// Turns a SIGBUS from this mapping (the object was truncated) into zero pages; see `TruncationGuard`.
    func guardAgainstTruncation() {
        if !guarded { guarded = TruncationGuard.guardMapping(base, size: size) }
    }

    deinit {
        if guarded { TruncationGuard.unguard(base) }
        munmap(base, size)
    }

    /// Creates a new object of `size` bytes (zero-filled by the kernel); fails if it exists.
    /// Its memory is reserved now, so that a full /dev/shm is an error here and not a SIGBUS
    /// at some later write.
    static func create(name: String, size: Int, mode: mode_t) throws -> SharedMemory {
        let fd = try shmOpen(name, O_RDWR | O_CREAT | O_EXCL, mode)
        defer { close(fd) }
        // shm_open applies the umask; a segment others must share gets exactly the mode asked for.
        _ = fchmod(fd, mode)
        guard ftruncate(fd, off_t(size)) == 0 else {
            let code = errno
            shm_unlink("/" + name)
            throw error(code, name: name, operation: "ftruncate")
        }
        let reserved = posix_fallocate(fd, 0, off_t(size))
        // Filesystems without fallocate (EOPNOTSUPP, EINVAL) keep the old behaviour.
        if reserved == ENOSPC || reserved == EFBIG {
            shm_unlink("/" + name)
            throw SegmentError.noSpace(name: name, megabytes: (size + (1 << 20) - 1) >> 20)
        }
        do {
            return try map(fd: fd, name: name, size: size)
        } catch {
            shm_unlink("/" + name)
            throw error
        }
    }

    /// Private, zero-filled anonymous memory of `size` bytes under `name` (a label: it names
    /// nothing in /dev/shm, so `isLinked` is false and no other process can open it).
    static func anonymous(name: String, size: Int) throws -> SharedMemory {
        let pointer = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let pointer, pointer != MAP_FAILED else { throw error(errno, name: name, operation: "mmap") }
        return SharedMemory(name: name, base: pointer, size: size, identity: (0, 0))
    }

    /// Maps an existing object at its current size, if this user may trust it: it must be
    /// ours (unless `allowingOtherOwner`) and writable by nobody else.
    static func open(name: String, allowingOtherOwner: Bool = false) throws -> SharedMemory {
        let fd = try shmOpen(name, O_RDWR, 0)
        defer { close(fd) }
        let info = try trustedStatus(fd, name: name, allowingOtherOwner: allowingOtherOwner)
        let size = Int(info.st_size)
        guard size >= Header.size else { throw SegmentError.truncated(name: name, actualBytes: size, expectedBytes: Header.size) }
        return try map(fd: fd, name: name, size: size)
    }

    /// Removes the name, only if it names an object of this user (or `allowingOtherOwner`).
    static func unlink(name: String, allowingOtherOwner: Bool = false) throws {
        let fd = try shmOpen(name, O_RDONLY, 0)
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw error(errno, name: name, operation: "fstat") }
        guard allowingOtherOwner || info.st_uid == geteuid() else { throw SegmentError.notOwned(name: name, owner: info.st_uid) }
        guard shm_unlink("/" + name) == 0 else { throw error(errno, name: name, operation: "shm_unlink") }
    }

    /// `shm_open` of a validated name.
    private static func shmOpen(_ name: String, _ flags: Int32, _ mode: mode_t) throws -> Int32 {
        try SegmentConfiguration.validate(name: name)
        let fd = shm_open("/" + name, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw error(errno, name: name, operation: "shm_open") }
        return fd
    }

    private static func trustedStatus(_ fd: Int32, name: String, allowingOtherOwner: Bool) throws -> stat {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw error(errno, name: name, operation: "fstat") }
        guard allowingOtherOwner || info.st_uid == geteuid() else { throw SegmentError.notOwned(name: name, owner: info.st_uid) }
        guard info.st_mode & 0o022 == 0 else { throw SegmentError.unsafeMode(name: name, mode: info.st_mode & 0o7777) }
        return info
    }

    private static func map(fd: Int32, name: String, size: Int) throws -> SharedMemory {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw error(errno, name: name, operation: "fstat") }
        let pointer = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        guard let pointer, pointer != MAP_FAILED else { throw error(errno, name: name, operation: "mmap") }
        return SharedMemory(name: name, base: pointer, size: size, identity: (info.st_dev, info.st_ino))
    }

    private static func error(_ code: Int32, name: String, operation: String) -> SegmentError {
        switch code {
        case ENOENT: .missing(name: name)
        case EEXIST: .alreadyExists(name: name)
        case EACCES, EPERM: .permissionDenied(name: name)
        case EINVAL where operation == "shm_open": .invalidConfiguration("\"\(name)\" is not a valid shared-memory name")
        default: .system(operation: "\(operation) /dev/shm/\(name)", errno: code)
        }
    }
}

import Glibc

/// Tells whether a shared-memory object is still whole under its name: the agent keeps a
/// descriptor of the object it mapped; `shm_unlink` drops the link count to 0 (a new
/// segment created under the same name is another object), and `ftruncate` by another
/// process shrinks it below the agent's mapping.
struct ShmLiveness {
    enum State { case whole, removed, truncated }

    private let fd: Int32
    private let mappedBytes: Int

    init?(name: String, mappedBytes: Int) {
        let fd = shm_open("/" + name, O_RDONLY | O_CLOEXEC, 0)
        guard fd >= 0 else { return nil }
        self.fd = fd
        self.mappedBytes = mappedBytes
    }

    var state: State {
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_nlink > 0 else { return .removed }
        return Int(info.st_size) < mappedBytes ? .truncated : .whole
    }

    func close() { _ = Glibc.close(fd) }
}

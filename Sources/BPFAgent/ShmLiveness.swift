import Glibc

/// Tells whether a shared-memory object is still linked under its name: the agent keeps a
/// descriptor of the object it mapped, and `shm_unlink` drops the link count to 0 (a new
/// segment created under the same name is another object).
struct ShmLiveness {
    private let fd: Int32

    init?(name: String) {
        let fd = shm_open("/" + name, O_RDONLY, 0)
        guard fd >= 0 else { return nil }
        self.fd = fd
    }

    var isLinked: Bool {
        var info = stat()
        return fstat(fd, &info) == 0 && info.st_nlink > 0
    }

    func close() { _ = Glibc.close(fd) }
}

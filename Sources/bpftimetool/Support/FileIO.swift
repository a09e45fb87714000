import Foundation
import SystemPackage

/// Files named on the command line, where `-` means stdin or stdout.
enum FileIO {
    /// The whole file (or stdin), refused once it passes `limit` bytes: `/dev/zero` or a huge
    /// file is an error after `limit + 1` bytes, not an exhausted machine.
    static func read(_ path: String, limit: Int, what: String) throws -> [UInt8] {
        let fd: FileDescriptor
        if path == "-" {
            fd = .standardInput
        } else {
            do { fd = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec]) } catch Errno.noSuchFileOrDirectory {
                throw ToolError("file not found: \(path)")
            } catch {
                throw ToolError("cannot read \(path): \(error)")
            }
        }
        defer { if path != "-" { try? fd.close() } }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = try chunk.withUnsafeMutableBytes { buffer in
                do { return try fd.read(into: buffer, retryOnInterrupt: true) } catch { throw ToolError("cannot read \(path): \(error)") }
            }
            if n == 0 { return bytes }
            guard bytes.count + n <= limit else {
                throw ToolError("\(path == "-" ? "stdin" : path) is larger than \(limit) bytes, the most \(what) can be")
            }
            bytes += chunk[..<n]
        }
    }

    /// A file that an output must never replace, such as the segment or the database in use.
    struct Protected {
        var device: UInt64
        var inode: UInt64
        var role: String

        /// The file at `path`, if there is one.
        init?(path: String, role: String) {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            self.init(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), role: role)
        }

        init(device: UInt64, inode: UInt64, role: String) {
            self.device = device
            self.inode = inode
            self.role = role
        }
    }

    /// Writes through `produce` into `path` (stdout for `-`).
    ///
    /// A regular file is written to a new temporary beside it (created with O_EXCL|O_NOFOLLOW,
    /// so nothing planted at that name is followed) and renamed into place, so a failure never
    /// leaves a half-written file. Anything else that exists (a device, a FIFO) is written
    /// through, never replaced. A path that is one of `protected`, or a file with other hard
    /// links (which a rename would silently detach), is refused.
    static func writeAtomically(_ path: String, protecting protected: [Protected] = [],
                                _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        if path == "-" { return try write(to: .standardOutput, path: path, produce) }
        var info = stat()
        guard stat(path, &info) == 0 else {
            // Nothing there; a dangling symlink would be replaced rather than followed: refuse it.
            guard lstat(path, &info) != 0 else { throw ToolError("cannot write \(path): it is a symbolic link to nothing") }
            return try replace(path, mode: 0o644, produce)
        }
        if let match = protected.first(where: { $0.device == UInt64(info.st_dev) && $0.inode == UInt64(info.st_ino) }) {
            throw ToolError("refusing to write \(path): it is \(match.role)")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            let fd = try openOrFail(path) { try FileDescriptor.open(path, .writeOnly, options: [.closeOnExec]) }
            defer { try? fd.close() }
            return try write(to: fd, path: path, produce)
        }
        guard info.st_nlink <= 1 else {
            throw ToolError("refusing to replace \(path): it has \(info.st_nlink) hard links, which a new file would not keep; write elsewhere and copy")
        }
        // A symlink to a file: replace the file it names, not the link.
        let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) == nil
            ? path : URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        try replace(target, mode: info.st_mode & 0o777, produce)
    }

    /// Writes a fresh temporary beside `path` and renames it over `path`.
    private static func replace(_ path: String, mode: mode_t, _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt64.random(in: 0 ... .max))").path
        let fd = try openOrFail(path) {
            try FileDescriptor.open(temporary, .writeOnly, options: [.create, .exclusiveCreate, .noFollow, .closeOnExec],
                                    permissions: FilePermissions(rawValue: mode))
        }
        do {
            try write(to: fd, path: path, produce)
            try fd.close()
            guard rename(temporary, path) == 0 else { throw ToolError("cannot write \(path): \(String(cString: strerror(errno)))") }
        } catch {
            try? fd.close()
            unlink(temporary)
            throw error
        }
    }

    private static func openOrFail(_ path: String, _ open: () throws -> FileDescriptor) throws -> FileDescriptor {
        do { return try open() } catch { throw ToolError("cannot write \(path): \(error)") }
    }

    private static func write(to fd: FileDescriptor, path: String, _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        try produce { bytes in
            do { _ = try fd.writeAll(bytes) } catch { throw ToolError("cannot write \(path): \(error)") }
        }
    }
}

/// A user-facing failure: printed as `Error: <message>`, exit status 1.
struct ToolError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

import Foundation

/// Files named on the command line, where `-` means stdin or stdout.
enum FileIO {
    static func read(_ path: String) throws -> [UInt8] {
        if path == "-" { return [UInt8](FileHandle.standardInput.readDataToEndOfFile()) }
        guard FileManager.default.fileExists(atPath: path) else { throw ToolError("file not found: \(path)") }
        guard let handle = FileHandle(forReadingAtPath: path), let data = try? handle.readToEnd() ?? Data() else {
            throw ToolError("cannot read \(path)")
        }
        return [UInt8](data)
    }

    /// A buffered writer to a file (created or truncated, mode 0644) or stdout.
    final class Writer {
        private let fd: Int32
        private let ownsFD: Bool
        let path: String

        init(path: String) throws {
            self.path = path
            if path == "-" {
                fd = STDOUT_FILENO
                ownsFD = false
            } else {
                fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                guard fd >= 0 else { throw ToolError("cannot write \(path): \(String(cString: strerror(errno)))") }
                ownsFD = true
            }
        }

        func write(_ bytes: UnsafeRawBufferPointer) throws {
            var done = 0
            while done < bytes.count {
                let n = Foundation.write(fd, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ToolError("cannot write \(path): \(String(cString: strerror(errno)))")
                }
                done += n
            }
        }

        func close() throws {
            guard ownsFD else { return }
            if Foundation.close(fd) != 0 { throw ToolError("cannot write \(path): \(String(cString: strerror(errno)))") }
        }
    }
}

/// A user-facing failure: printed as `Error: <message>`, exit status 1.
struct ToolError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

extension FileIO {
    /// Writes through `produce` into `path` (or stdout for `-`); a file is written beside its
    /// final name and renamed into place, so a failure never leaves a half-written file.
    static func writeAtomically(_ path: String, _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        if path == "-" {
            let out = try Writer(path: "-")
            try produce(out.write)
            return
        }
        let temporary = path + ".tmp-\(getpid())"
        guard let out = try? Writer(path: temporary) else {
            throw ToolError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        do {
            try produce(out.write)
            try out.close()
            guard rename(temporary, path) == 0 else { throw ToolError("cannot write \(path): \(String(cString: strerror(errno)))") }
        } catch {
            try? out.close()
            unlink(temporary)
            throw error
        }
    }
}

import Glibc

/// Hooks named by code of this process: the module is the file the code is mapped from and the
/// offset its file offset, as libbpf computes uprobe offsets (read from /proc/self/maps).
extension Hook {
    /// The hook of a function in this process, by its address.
    public static func function(at address: UnsafeRawPointer, returning: Bool = false) throws(HookError) -> Hook {
        let target = UInt(bitPattern: address)
        guard let mapping = MappedFile.containing(target) else {
            throw HookError("address 0x\(String(target, radix: 16)) is not in a file mapped by this process", code: ENOENT)
        }
        let offset = UInt64(target - mapping.start) + mapping.fileOffset
        return returning ? .uretprobe(module: mapping.path, offset: offset) : .uprobe(module: mapping.path, offset: offset)
    }

    /// The hook of an exported symbol of this process (found with `dlsym`).
    public static func symbol(_ name: String, returning: Bool = false) throws(HookError) -> Hook {
        guard let process = dlopen(nil, RTLD_NOW) else { throw HookError("dlopen of the main program failed") }
        defer { dlclose(process) }
        guard let address = dlsym(process, name) else {
            throw HookError("no symbol \"\(name)\" in this process (is it exported? link with -rdynamic)", code: ENOENT)
        }
        return try function(at: address, returning: returning)
    }
}

/// One line of /proc/self/maps that maps a file.
struct MappedFile {
    var start: UInt
    var end: UInt
    var fileOffset: UInt64
    var path: String

    static func containing(_ address: UInt) -> MappedFile? {
        guard let file = fopen("/proc/self/maps", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 4096)
        while fgets(&line, Int32(line.count), file) != nil {
            if let mapping = parse(String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)), mapping.start <= address, address < mapping.end { return mapping }
        }
        return nil
    }

    /// `start-end perms offset dev inode path`; nil for anonymous mappings.
    static func parse(_ line: String) -> MappedFile? {
        let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
        guard fields.count == 6 else { return nil }
        let range = fields[0].split(separator: "-")
        let path = fields[5].trimmingSuffix("\n")
        guard range.count == 2, let start = UInt(range[0], radix: 16), let end = UInt(range[1], radix: 16),
              let offset = UInt64(fields[2], radix: 16), path.hasPrefix("/") else { return nil }
        return MappedFile(start: start, end: end, fileOffset: offset, path: String(path))
    }
}

private extension Substring {
    func trimmingSuffix(_ suffix: String) -> Substring {
        var text = self
        while text.hasSuffix(suffix) { text = text.dropLast(suffix.count) }
        return text.drop { $0 == " " }
    }
}

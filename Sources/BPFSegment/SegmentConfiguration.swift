import Glibc

/// How a segment is created: bpftime's environment variables, our own default name.
public struct SegmentConfiguration: Sendable, Equatable {
    /// Not bpftime's `bpftime_maps_shm`: that segment has bpftime's layout, not ours.
    public static let defaultName = "bpftimetool_swift"
    public static let defaultSizeMB = 20
    public static let defaultMaxHandlers = 10240

    /// The shm name, without the leading slash.
    public var name: String
    public var sizeBytes: Int
    public var maxHandlers: Int
    public var mode: mode_t

    public init(name: String = Self.defaultName, sizeBytes: Int = Self.defaultSizeMB << 20,
                maxHandlers: Int = Self.defaultMaxHandlers, mode: mode_t = 0o600) {
        self.name = name
        self.sizeBytes = sizeBytes
        self.maxHandlers = maxHandlers
        self.mode = mode
    }

    /// BPFTIME_GLOBAL_SHM_NAME (without a leading slash), else the default name.
    public static var environmentName: String {
        guard let name = getenv("BPFTIME_GLOBAL_SHM_NAME").map({ String(cString: $0) }), !name.isEmpty else { return defaultName }
        return name.hasPrefix("/") ? String(name.dropFirst()) : name
    }

    /// BPFTIME_GLOBAL_SHM_NAME, BPFTIME_SHM_MEMORY_MB and BPFTIME_MAX_FD_COUNT; `override`
    /// (the `--shm` option) wins over the environment. A number that is set but not valid is
    /// an error, not a silent default.
    public static func fromEnvironment(name override: String? = nil) throws -> SegmentConfiguration {
        func number(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
            guard let text = getenv(key).map({ String(cString: $0) }) else { return nil }
            guard let value = Int(text), range.contains(value) else {
                throw SegmentError.invalidConfiguration("\(key)=\(text) is not a whole number in \(range.lowerBound)...\(range.upperBound)")
            }
            return value
        }
        var config = SegmentConfiguration(name: override.map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 } ?? environmentName)
        if let mb = try number("BPFTIME_SHM_MEMORY_MB", in: 1 ... (1 << 20) - 1) { config.sizeBytes = mb << 20 }
        if let count = try number("BPFTIME_MAX_FD_COUNT", in: 1 ... maxHandlersLimit) { config.maxHandlers = count }
        return config
    }

    /// The most handler slots a segment can have.
    public static let maxHandlersLimit = 1 << 24

    /// Refuses a name that is no single file name under /dev/shm: empty, `.`, `..`, with a
    /// `/` (beyond one leading slash, already stripped), or longer than NAME_MAX. Every way to
    /// create, open or remove a segment goes through here.
    public static func validate(name: String) throws {
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.utf8.contains(0), name.utf8.count <= Int(NAME_MAX) else {
            throw SegmentError.invalidName(name)
        }
    }

    func validate() throws {
        try Self.validate(name: name)
        if maxHandlers < 1 || maxHandlers > Self.maxHandlersLimit {
            throw SegmentError.invalidConfiguration("max handlers \(maxHandlers) must be in 1...\(Self.maxHandlersLimit)")
        }
        if mode & 0o022 != 0 {
            throw SegmentError.invalidConfiguration("mode \(String(mode, radix: 8)) lets others write the segment; use 0600 or 0644")
        }
        let minimum = Header.size + maxHandlers * 8 + Journal.capacity(forSegmentSize: sizeBytes) + 64 * 1024
        if sizeBytes < minimum {
            throw SegmentError.invalidConfiguration("size \(sizeBytes) bytes is too small for \(maxHandlers) handlers: at least \(minimum)")
        }
    }
}

/// A summary for `bpftimetool status`.
public struct SegmentStatus: Sendable, Equatable {
    public var name: String
    public var sizeBytes: Int
    public var usedBytes: Int
    public var handlerCount: Int
    public var maxHandlers: Int
    public var generation: UInt64
    public var tableGeneration: UInt64
    public var cpuCount: Int
    /// How often a process found the lock abandoned by a dead holder and repaired the segment.
    public var recoveries: UInt64
}

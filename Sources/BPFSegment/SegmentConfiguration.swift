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

    /// BPFTIME_GLOBAL_SHM_NAME, BPFTIME_SHM_MEMORY_MB and BPFTIME_MAX_FD_COUNT; `override`
    /// (the `--shm` option) wins over the environment. Unparsable numbers fall back to defaults.
    public static func fromEnvironment(name override: String? = nil) -> SegmentConfiguration {
        func env(_ key: String) -> String? { getenv(key).map { String(cString: $0) } }
        var config = SegmentConfiguration()
        if let name = override ?? env("BPFTIME_GLOBAL_SHM_NAME"), !name.isEmpty {
            config.name = name.hasPrefix("/") ? String(name.dropFirst()) : name
        }
        if let mb = env("BPFTIME_SHM_MEMORY_MB").flatMap(Int.init), mb > 0, mb < 1 << 20 { config.sizeBytes = mb << 20 }
        if let count = env("BPFTIME_MAX_FD_COUNT").flatMap(Int.init), count > 0 { config.maxHandlers = count }
        return config
    }

    func validate() throws {
        if name.isEmpty || name.contains("/") || name.utf8.count > 250 {
            throw SegmentError.invalidConfiguration("name \"\(name)\" must be 1-250 characters without '/'")
        }
        if maxHandlers < 1 || maxHandlers > 1 << 24 {
            throw SegmentError.invalidConfiguration("max handlers \(maxHandlers) must be in 1...\(1 << 24)")
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

import BPFModel
import Glibc

/// A POSIX shared-memory segment holding a handler table and map storage, shared by every
/// process that maps it. All mutations happen under the segment's one robust mutex.
public final class Segment: @unchecked Sendable {
    let shm: SharedMemory
    let header: Header
    let mutex: RobustMutex
    let journal: Journal
    let allocator: Allocator
    let table: HandlerTable

    private init(_ shm: SharedMemory) {
        self.shm = shm
        header = Header(base: shm.base)
        mutex = RobustMutex(header)
        journal = Journal(header)
        allocator = Allocator(header)
        table = HandlerTable(header)
    }

    public var name: String { shm.name }
    /// The device and inode of the object mapped, so that a caller can tell a path that names it.
    public var fileIdentity: (device: UInt64, inode: UInt64) { (UInt64(shm.identity.0), UInt64(shm.identity.1)) }
    var base: UnsafeMutableRawPointer { shm.base }
    /// Every byte of the mapping, for this package's tests that checkpoint a private segment.
    package var allBytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: shm.base, count: shm.size) }

    // MARK: Creating, opening, removing

    /// Creates a new segment; fails if one with that name exists.
    public static func create(_ configuration: SegmentConfiguration) throws -> Segment {
        try configuration.validate()
        let shm = try SharedMemory.create(name: configuration.name, size: configuration.sizeBytes, mode: configuration.mode)
        do {
            try format(shm, configuration)
        } catch {
            try? SharedMemory.unlink(name: configuration.name)
            throw error
        }
        return Segment(shm)
    }

    /// Creates a segment in this process's own anonymous memory: it has no name in /dev/shm,
    /// no other process can open it, and it goes away with its last reference. The maps of a
    /// program run without a runtime (tests, benchmarks, validation) live here, so that they
    /// have exactly the semantics of a shared segment's maps. `configuration.name` is only a
    /// label for messages.
    public static func createPrivate(_ configuration: SegmentConfiguration) throws -> Segment {
        try configuration.validate()
        let shm = try SharedMemory.anonymous(name: configuration.name, size: configuration.sizeBytes)
        try format(shm, configuration)
        return Segment(shm)
    }

    /// Lays out a fresh, zero-filled object. The magic goes in last: until then openers see
    /// an object that is not (yet) a segment.
    private static func format(_ shm: SharedMemory, _ configuration: SegmentConfiguration) throws {
        let b = shm.base
        let journalAt = Header.size + configuration.maxHandlers * 8
        let capacity = Journal.capacity(forSegmentSize: configuration.sizeBytes)
        b.set32(Header.versionAt, Header.layoutVersion)
        b.set32(Header.headerSizeAt, UInt32(Header.size))
        b.set64(Header.totalSizeAt, UInt64(shm.size))
        b.set64(Header.maxHandlersAt, UInt64(configuration.maxHandlers))
        b.set32(Header.cpuCountAt, UInt32(possibleCPUs()))
        b.set64(Header.tableAt, UInt64(Header.size))
        b.set64(Header.journalAt, UInt64(journalAt))
        b.set64(Header.journalCapacityAt, UInt64(capacity))
        b.set64(Header.heapAt, UInt64(roundUp(journalAt + capacity, 4096)))
        b.set64(Header.instanceAt, UInt64.random(in: 1 ... .max))
        let header = Header(base: b)
        try RobustMutex(header).initialize()
        Allocator(header).format()
        orderStores()
        b.set64(Header.magicAt, Header.magic)
    }

    /// Opens an existing segment, refusing anything that is not ours or not whole: another
    /// user's segment (unless `allowingOtherOwner`), one others may write, another format.
    public static func open(name: String, allowingOtherOwner: Bool = false) throws -> Segment {
        let shm = try SharedMemory.open(name: name, allowingOtherOwner: allowingOtherOwner)
        let b = shm.base
        let magic = b.u64(Header.magicAt)
        guard magic != 0 else { throw SegmentError.notInitialised(name: name) }
        guard magic == Header.magic else { throw SegmentError.notOurFormat(name: name, detail: "bad magic number") }
        let version = b.u32(Header.versionAt)
        guard Header.readableVersions.contains(version) else {
            throw SegmentError.otherLayoutVersion(name: name, found: version, expected: Header.layoutVersion)
        }
        let header = Header(base: b)
        if header.totalSize > shm.size {
            throw SegmentError.truncated(name: name, actualBytes: shm.size, expectedBytes: header.totalSize)
        }
        let problems = header.layoutProblems(mappedBytes: shm.size)
        guard problems.isEmpty else { throw SegmentError.corrupt(name: name, detail: problems.joined(separator: "; ")) }
        return Segment(shm)
    }

    /// Opens the segment, creating it if there is none. Two processes racing to create it
    /// both end up with the one that won.
    public static func openOrCreate(_ configuration: SegmentConfiguration) throws -> Segment {
        for _ in 0..<200 {
            do {
                return try open(name: configuration.name)
            } catch SegmentError.missing {
                do { return try create(configuration) } catch SegmentError.alreadyExists { continue }
            } catch SegmentError.notInitialised {
                usleep(5_000) // another process is formatting it
            }
        }
        return try open(name: configuration.name)
    }

    /// False once the segment was removed (or replaced by a new one of the same name): a
    /// long-running user such as an agent should then let go of it. Costs a system call.
    public var isLinked: Bool { shm.isLinked }

    /// From now on, an access past the end of a segment another process truncated reads zeros
    /// instead of raising SIGBUS (a process-wide handler, see `TruncationGuard`); the caller
    /// should notice the smaller size (fstat) and stop using the segment. For long-running
    /// users such as the agent.
    public func guardAgainstTruncation() { shm.guardAgainstTruncation() }

    /// Unlinks the segment, if it is this user's (or `allowingOtherOwner`); processes that
    /// have it mapped keep their mapping.
    public static func remove(name: String, allowingOtherOwner: Bool = false) throws {
        try SharedMemory.unlink(name: name, allowingOtherOwner: allowingOtherOwner)
    }

    /// Possible CPUs (not just online ones), as per-CPU maps size their values.
    static func possibleCPUs() -> Int {
        if let file = fopen("/sys/devices/system/cpu/possible", "r") {
            defer { fclose(file) }
            var buffer = [CChar](repeating: 0, count: 256)
            if fgets(&buffer, Int32(buffer.count), file) != nil {
                // A list of ranges such as "0-3,8-11".
                let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                let ranges = line.split(whereSeparator: { $0 == "," || $0 == "\n" })
                let highest = ranges.compactMap { $0.split(separator: "-").last.flatMap { Int($0) } }.max()
                if let highest, highest >= 0, highest < 4096 { return highest + 1 }
            }
        }
        return max(1, sysconf(Int32(_SC_NPROCESSORS_CONF)))
    }

    // MARK: Locking

    /// Runs `body` under the segment lock, repairing the segment first if the last holder died.
    func locked<T>(_ body: () throws -> T) throws -> T {
        switch mutex.lock() {
        case .acquired: break
        case .acquiredFromDeadOwner: recoverAfterDeadOwner()
        case .timedOut: throw SegmentError.lockTimeout(name: name, seconds: RobustMutex.timeoutSeconds)
        case .unrecoverable: throw SegmentError.lockUnrecoverable(name: name)
        case .failed(let code): throw SegmentError.system(operation: "pthread_mutex_lock", errno: code)
        }
        defer { mutex.unlock() }
        return try body()
    }

    /// The map operations' lock after anything but a plain acquisition: false when the lock
    /// cannot be had.
    @inline(never) func settleMapLock(_ outcome: RobustMutex.Outcome) -> Bool {
        switch outcome {
        case .acquired: return true
        case .acquiredFromDeadOwner:
            recoverAfterDeadOwner()
            return true
        case .timedOut, .unrecoverable, .failed: return false
        }
    }

    // MARK: Reading

    /// Bumped by every mutation, map updates included; read without the lock.
    public var generation: UInt64 { header.generation }
    /// Bumped only when the handler table changes.
    public var tableGeneration: UInt64 { header.tableGeneration }
    /// A random number drawn when the segment was created (0 for segments created before it
    /// existed): a generation means one state only together with it, since a segment removed
    /// and created again under the same name counts its generations from the start.
    public var instance: UInt64 { header.instance }

    public func status() -> SegmentStatus {
        let read = {
            SegmentStatus(name: self.name, sizeBytes: self.shm.size, usedBytes: self.header.heapOffset &+ self.header.usedBytes,
                          handlerCount: self.header.handlerCount, maxHandlers: self.header.maxHandlers,
                          generation: self.generation, tableGeneration: self.tableGeneration,
                          cpuCount: self.header.cpuCount, recoveries: self.header.recoveries)
        }
        return (try? locked(read)) ?? read()
    }

    /// The handler at `fd` (nil if the slot is empty), with its map's contents if asked.
    public func handler(at fd: Int, includeContents: Bool = false) throws -> Handler? {
        try checkRange(fd)
        return try locked { try decodeHandler(fd, includeContents: includeContents) }
    }

    /// Every handler, sorted by fd, read in one critical section.
    public func records(includeContents: Bool) throws -> [HandlerRecord] {
        try locked { try recordsLocked(includeContents: includeContents) }
    }

    /// Caller holds the lock.
    func recordsLocked(includeContents: Bool) throws -> [HandlerRecord] {
        try table.occupied().compactMap { fd in
            try decodeHandler(fd, includeContents: includeContents).map { HandlerRecord(fd: fd, handler: $0) }
        }
    }

    /// Caller holds the lock.
    func decodeHandler(_ fd: Int, includeContents: Bool) throws -> Handler? {
        guard let (handler, record) = try storedHandler(fd) else { return nil }
        guard includeContents, case .map(var map) = handler, let store = try mapStore(fd: fd, record: record, attributes: map.attributes) else {
            return handler
        }
        map.contents = store.layout.kind.isKeyed || store.layout.kind.isSequence ? store.contents() : nil
        map.frozen = store.isFrozen
        return .map(map)
    }

    /// The storage of the map in `record`, validated; nil for maps that keep no data.
    func mapStore(fd: Int, record: HandlerTable.Record, attributes: MapAttributes) throws -> MapStore? {
        guard let kind = attributes.kind, record.storage != 0 else { return nil }
        guard let capacity = allocator.capacity(ofPayload: record.storage) else {
            throw corrupt("map at fd \(fd): storage offset \(record.storage) is not an allocated block")
        }
        switch MapLayout.read(base, storage: record.storage, capacity: capacity, kind: kind, attributes: attributes, cpuCount: header.cpuCount) {
        case .success(let layout): return MapStore(base: base, layout: layout, journal: journal)
        case .failure(let problem): throw corrupt("map at fd \(fd): \(problem.text)")
        }
    }

    /// The decoded handler and its record block, corruption reported as a SegmentError.
    func storedHandler(_ fd: Int) throws -> (Handler, HandlerTable.Record)? {
        do { return try table.handler(fd) } catch { throw corrupt("fd \(fd): \(error.text)") }
    }

    func checkRange(_ fd: Int) throws {
        guard fd >= 0, fd < header.maxHandlers else { throw SegmentError.fdOutOfRange(fd: fd, maxHandlers: header.maxHandlers) }
    }

    func corrupt(_ detail: String) -> SegmentError { .corrupt(name: name, detail: detail) }
}

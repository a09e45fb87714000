@testable import BPFSegment
import BPFModel
import Glibc
import Testing

extension SegmentTests {
    @Suite struct LifecycleTests {
        @Test func createOpenRemove() throws {
            let config = SegmentConfiguration(name: uniqueName(), sizeBytes: 2 << 20, maxHandlers: 64)
            let created = try Segment.create(config)
            defer { try? Segment.remove(name: config.name) }
            let status = created.status()
            #expect(status.name == config.name)
            #expect(status.sizeBytes == 2 << 20)
            #expect(status.maxHandlers == 64)
            #expect(status.handlerCount == 0)
            #expect(status.cpuCount == Segment.possibleCPUs())
            #expect(status.usedBytes > 0 && status.usedBytes < status.sizeBytes)

            #expect(throws: SegmentError.alreadyExists(name: config.name)) { try Segment.create(config) }
            try created.apply([mapRecord(3, .hash)])
            let opened = try Segment.open(name: config.name)
            #expect(try opened.records(includeContents: true) == created.records(includeContents: true))
            #expect(try Segment.openOrCreate(config).generation == created.generation)

            var info = stat()
            #expect(stat("/dev/shm/\(config.name)", &info) == 0)
            #expect(info.st_mode & 0o777 == 0o600)

            #expect(created.isLinked && opened.isLinked)
            try Segment.remove(name: config.name)
            #expect(!created.isLinked && !opened.isLinked)
            #expect(throws: SegmentError.missing(name: config.name)) { try Segment.open(name: config.name) }
            let successor = try Segment.create(config)
            #expect(successor.isLinked && !opened.isLinked, "a new segment of the same name is another object")
            try Segment.remove(name: config.name)
            #expect(throws: SegmentError.missing(name: config.name)) { try Segment.remove(name: config.name) }
            // A process that still maps a removed segment keeps working.
            #expect(try opened.handler(at: 3)?.kind == .map)
        }

        @Test func openOrCreateCreates() throws {
            let config = SegmentConfiguration(name: uniqueName(), sizeBytes: 2 << 20, maxHandlers: 64)
            defer { try? Segment.remove(name: config.name) }
            let segment = try Segment.openOrCreate(config)
            #expect(segment.status().handlerCount == 0)
        }

        /// The library says what is wrong; which command fixes it is the command line's hint.
        @Test func messagesNameNoCommandOfTheTool() {
            #expect(SegmentError.missing(name: "x").description == "no segment named x")
            #expect(!SegmentError.alreadyExists(name: "x").description.contains("bpftimetool"))
            #expect(!SegmentError.corrupt(name: "x", detail: "d").description.contains("bpftimetool"))
            #expect(SegmentError.full(name: "x", neededBytes: 10, freeBytes: 5).description.contains("BPFTIME_SHM_MEMORY_MB"))
        }

        @Test func environmentConfiguration() throws {
            setenv("BPFTIME_GLOBAL_SHM_NAME", "from_env", 1)
            setenv("BPFTIME_SHM_MEMORY_MB", "33", 1)
            setenv("BPFTIME_MAX_FD_COUNT", "77", 1)
            defer { for key in ["BPFTIME_GLOBAL_SHM_NAME", "BPFTIME_SHM_MEMORY_MB", "BPFTIME_MAX_FD_COUNT"] as [String] { unsetenv(key) } }
            let config = try SegmentConfiguration.fromEnvironment()
            #expect(config.name == "from_env" && config.sizeBytes == 33 << 20 && config.maxHandlers == 77 && config.mode == 0o600)
            #expect(try SegmentConfiguration.fromEnvironment(name: "cli").name == "cli")
            unsetenv("BPFTIME_GLOBAL_SHM_NAME")
            #expect(try SegmentConfiguration.fromEnvironment().name == "bpftimetool_swift")
        }

        @Test func badConfigurationIsRefused() {
            #expect(throws: SegmentError.self) { try Segment.create(SegmentConfiguration(name: "a/b")) }
            #expect(throws: SegmentError.self) { try Segment.create(SegmentConfiguration(name: uniqueName(), sizeBytes: 4096)) }
        }

        /// Writes raw bytes as a shm object, as another program would.
        private func foreign(_ name: String, _ bytes: [UInt8]) {
            let fd = shm_open("/" + name, O_RDWR | O_CREAT | O_EXCL, 0o600)
            _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }

        @Test func foreignSegmentIsNotOurFormat() throws {
            let name = uniqueName()
            defer { try? Segment.remove(name: name) }
            foreign(name, [UInt8](repeating: 0x5a, count: 1 << 20))
            do {
                _ = try Segment.open(name: name)
                Issue.record("opened a foreign segment")
            } catch let error as SegmentError {
                guard case .notOurFormat = error else { Issue.record("wrong error \(error)"); return }
                #expect(error.description.contains("not a bpftimetool-swift segment"))
            }
            let tiny = uniqueName()
            defer { try? Segment.remove(name: tiny) }
            foreign(tiny, [1, 2, 3])
            #expect(throws: SegmentError.truncated(name: tiny, actualBytes: 3, expectedBytes: Header.size)) { try Segment.open(name: tiny) }
        }

        @Test func otherLayoutVersionAndTruncation() throws {
            let config = SegmentConfiguration(name: uniqueName(), sizeBytes: 2 << 20, maxHandlers: 64)
            let segment = try Segment.create(config)
            defer { try? Segment.remove(name: config.name) }
            segment.base.set32(Header.versionAt, 99)
            #expect(throws: SegmentError.otherLayoutVersion(name: config.name, found: 99, expected: Header.layoutVersion)) {
                try Segment.open(name: config.name)
            }
            segment.base.set32(Header.versionAt, Header.layoutVersion)
            _ = try Segment.open(name: config.name)

            let fd = shm_open("/" + config.name, O_RDWR, 0)
            ftruncate(fd, off_t(1 << 20))
            close(fd)
            #expect(throws: SegmentError.truncated(name: config.name, actualBytes: 1 << 20, expectedBytes: 2 << 20)) {
                try Segment.open(name: config.name)
            }
        }

        /// Root ignores modes, so the child drops to nobody before opening.
        @Test func permissionDenied() throws {
            let config = SegmentConfiguration(name: uniqueName(), sizeBytes: 2 << 20, maxHandlers: 64)
            _ = try Segment.create(config)
            defer { try? Segment.remove(name: config.name) }
            let child = Child.start { _ in
                if getuid() == 0, setgid(65534) != 0 || setuid(65534) != 0 { return 2 }
                do {
                    _ = try Segment.open(name: config.name)
                    return 1
                } catch SegmentError.permissionDenied {
                    return 0
                } catch {
                    return 3
                }
            }
            #expect(child.wait() == 0)
        }
    }
}

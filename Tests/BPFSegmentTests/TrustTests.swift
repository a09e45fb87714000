@testable import BPFSegment
import Glibc
import Testing

extension SegmentTests {
    /// Which segments this user may open, create and remove, and under what names.
    @Suite struct TrustTests {
        @Test(arguments: ["", ".", "..", "a/b", "../etc", String(repeating: "x", count: Int(NAME_MAX) + 1)])
        func invalidNamesAreRefusedEverywhere(_ name: String) {
            #expect(throws: SegmentError.invalidName(name)) { try Segment.create(SegmentConfiguration(name: name, sizeBytes: 1 << 20, maxHandlers: 16)) }
            #expect(throws: SegmentError.invalidName(name)) { try Segment.open(name: name) }
            #expect(throws: SegmentError.invalidName(name)) { try Segment.remove(name: name) }
        }

        @Test func longestValidNameWorks() throws {
            let name = String((uniqueName() + String(repeating: "n", count: Int(NAME_MAX))).prefix(Int(NAME_MAX)))
            _ = try Segment.create(SegmentConfiguration(name: name, sizeBytes: 1 << 20, maxHandlers: 16))
            try Segment.remove(name: name)
        }

        /// Root can hand a segment to another user: the next open and remove must refuse it.
        @Test(.enabled(if: geteuid() == 0)) func anotherUsersSegmentIsRefused() throws {
            let config = SegmentConfiguration(name: uniqueName(), sizeBytes: 1 << 20, maxHandlers: 16)
            _ = try Segment.create(config)
            defer { try? Segment.remove(name: config.name, allowingOtherOwner: true) }
            #expect(chown("/dev/shm/\(config.name)", 65534, 65534) == 0)
            #expect(throws: SegmentError.notOwned(name: config.name, owner: 65534)) { try Segment.open(name: config.name) }
            #expect(throws: SegmentError.notOwned(name: config.name, owner: 65534)) { try Segment.openOrCreate(config) }
            #expect(throws: SegmentError.notOwned(name: config.name, owner: 65534)) { try Segment.remove(name: config.name) }
            // Still there, and usable by explicit choice.
            _ = try Segment.open(name: config.name, allowingOtherOwner: true)
        }

        @Test func segmentOthersMayWriteIsRefused() throws {
            let config = SegmentConfiguration(name: uniqueName(), sizeBytes: 1 << 20, maxHandlers: 16)
            _ = try Segment.create(config)
            defer { try? Segment.remove(name: config.name) }
            #expect(chmod("/dev/shm/\(config.name)", 0o666) == 0)
            #expect(throws: SegmentError.unsafeMode(name: config.name, mode: 0o666)) { try Segment.open(name: config.name) }
            #expect(throws: SegmentError.self) { try Segment.create(SegmentConfiguration(name: uniqueName(), mode: 0o666)) }
        }

        /// A segment larger than /dev/shm can ever hold fails at creation, and leaves nothing.
        @Test func segmentLargerThanDevShmFailsAtCreation() throws {
            var fs = statvfs()
            try #require(statvfs("/dev/shm", &fs) == 0 && fs.f_blocks > 0)
            let capacity = Int(fs.f_blocks) * Int(fs.f_frsize)
            let config = SegmentConfiguration(name: uniqueName(), sizeBytes: capacity + (64 << 20), maxHandlers: 16)
            defer { try? Segment.remove(name: config.name) }
            #expect(throws: SegmentError.noSpace(name: config.name, megabytes: (config.sizeBytes + (1 << 20) - 1) >> 20)) { try Segment.create(config) }
            #expect(throws: SegmentError.missing(name: config.name)) { try Segment.open(name: config.name) }
        }

        @Test(arguments: [("BPFTIME_SHM_MEMORY_MB", "abc"), ("BPFTIME_SHM_MEMORY_MB", "0"), ("BPFTIME_SHM_MEMORY_MB", "-5"),
                          ("BPFTIME_MAX_FD_COUNT", "lots"), ("BPFTIME_MAX_FD_COUNT", "0"), ("BPFTIME_MAX_FD_COUNT", "99999999999")])
        func invalidEnvironmentNumbersAreErrors(_ key: String, _ value: String) {
            setenv(key, value, 1)
            defer { unsetenv(key) }
            #expect(throws: SegmentError.self) { try SegmentConfiguration.fromEnvironment() }
        }
    }
}

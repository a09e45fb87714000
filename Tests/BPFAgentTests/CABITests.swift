import Foundation
import Glibc
import Testing

/// libbpftime_agent.so used as C and Python programs use it, in processes of their own.
@Suite(.serialized) struct CABITests {
    /// A count program on tracepoint 7 and on uprobe c-host:0x40, counting into fd 1 slot 0.
    func segment() throws -> TestSegment {
        try TestSegment([
            Fixture.array(1), Fixture.tracepoint(2, id: 7), Fixture.uprobe(3, module: "/usr/bin/c-host", offset: 0x40),
            Fixture.program(4, "count", Asm.count(map: 1), attach: [.init(targetFD: 2)]), Fixture.link(5, program: 4, target: 3),
        ])
    }

    static let cProgram = """
    #include <bpftime_agent.h>
    #include <errno.h>
    #include <stdio.h>
    #include <string.h>

    int main(int argc, char **argv) {
        if (argc != 2) return 2;
        if (bpftime_agent_open("bpftime_agent_no_such_segment") != NULL || errno != ENOENT || !*bpftime_agent_last_error()) {
            puts("a missing segment was not refused");
            return 1;
        }
        if (bpftime_agent_open_with_budget(argv[1], 0) != NULL || errno != EINVAL) {
            puts("a zero instruction budget was not refused");
            return 1;
        }
        bpftime_agent *agent = bpftime_agent_open_with_budget(argv[1], 1000);
        if (!agent) { printf("open failed: %s\\n", bpftime_agent_last_error()); return 1; }
        int64_t id = bpftime_agent_resolve(agent, "tracepoint:7");
        unsigned long ctx = 42;
        long runs = 0;
        for (int i = 0; i < 100; i++) runs += bpftime_agent_fire_id(agent, id, &ctx, sizeof ctx);
        runs += bpftime_agent_fire(agent, "c-host:0x40", NULL, 0);
        bpftime_call call = {{1, 2, 3, 4, 5, 6}, 7, 8, 9};
        runs += bpftime_agent_fire_call(agent, id, &call) + bpftime_agent_fire_call(agent, id, NULL);
        printf("id=%lld runs=%ld idle=%d bad=%d unknown_id=%d null=%lld detached=%d\\n", (long long)id, runs,
               bpftime_agent_fire(agent, "tracepoint:8", &ctx, sizeof ctx), bpftime_agent_fire(agent, "tracepoint:x", NULL, 0),
               bpftime_agent_fire_id(agent, 12345, NULL, 0), (long long)bpftime_agent_resolve(NULL, "tracepoint:7"),
               bpftime_agent_detached(agent));
        bpftime_agent_close(agent);
        bpftime_agent_close(NULL);
        return 0;
    }
    """

    /// Compiles `source` against the header and library, runs it with the segment's name.
    func runC(_ source: String, _ t: TestSegment) throws -> (ok: Bool, stdout: String, stderr: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(t.name)_c")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("host.c"), binary = dir.appendingPathComponent("host")
        try source.write(to: file, atomically: true, encoding: .utf8)
        let libDir = Built.library.deletingLastPathComponent().path
        let compile = try run(URL(fileURLWithPath: "/usr/bin/gcc"), [
            "-std=c11", "-Wall", "-Werror", "-I", Built.header.path, file.path, "-o", binary.path,
            "-L", libDir, "-lbpftime_agent", "-Wl,-rpath,\(libDir)",
        ])
        try #require(compile.ok, "gcc: \(compile.stderr)")
        let host = try run(binary, [t.name])
        return (host.ok, host.stdout, host.stderr)
    }

    @Test func aCProgramFiresHooksThroughTheHeader() throws {
        let t = try segment()
        let host = try runC(Self.cProgram, t)
        #expect(host.ok, "\(host.stdout) \(host.stderr)")
        #expect(host.stdout == "id=0 runs=103 idle=0 bad=-22 unknown_id=-22 null=-9 detached=0\n")
        #expect(try Fixture.value(t.segment, map: 1, slot: 0) == 103)
    }

    static let overrideProgram = """
    #include <bpftime_agent.h>
    #include <stdio.h>

    int main(int argc, char **argv) {
        bpftime_agent *agent = bpftime_agent_open(argv[1]);
        if (!agent) { printf("open failed: %s\\n", bpftime_agent_last_error()); return 1; }
        int64_t id = bpftime_agent_resolve(agent, "c-host:0x40");
        bpftime_call call = {{5}, 0, 0x40, 0, 0};
        int overridden = -1, plain = -1;
        uint64_t rc = 0, untouched = 9;
        int runs = bpftime_agent_fire_call_override(agent, id, &call, &overridden, &rc);
        int idle = bpftime_agent_fire_call_override(agent, bpftime_agent_resolve(agent, "c-host:0x80"), &call, &plain, &untouched);
        int nulls = bpftime_agent_fire_call_override(agent, id, NULL, NULL, NULL);
        printf("runs=%d overridden=%d rc=%llu idle=%d plain=%d untouched=%llu nulls=%d\\n", runs, overridden,
               (unsigned long long)rc, idle, plain, (unsigned long long)untouched, nulls);
        bpftime_agent_close(agent);
        return 0;
    }
    """

    @Test func aCProgramSkipsAFunctionWhoseReturnIsOverridden() throws {
        let setRetval = [Asm.mov(1, 77), Asm.call(187), Asm.mov(0, 0), Asm.exit].flatMap { $0 }
        let t = try TestSegment([Fixture.uprobe(3, module: "/usr/bin/c-host", offset: 0x40, overriding: true),
                                 Fixture.program(4, "set_retval", setRetval, attach: [.init(targetFD: 3)])])
        let host = try runC(Self.overrideProgram, t)
        #expect(host.ok, "\(host.stdout) \(host.stderr)")
        #expect(host.stdout == "runs=1 overridden=1 rc=77 idle=0 plain=0 untouched=9 nulls=1\n")
    }

    static let pythonProgram = """
    import ctypes, errno, sys
    lib = ctypes.CDLL(sys.argv[1], use_errno=True)
    lib.bpftime_agent_open.restype = ctypes.c_void_p
    lib.bpftime_agent_open.argtypes = [ctypes.c_char_p]
    lib.bpftime_agent_fire.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
    lib.bpftime_agent_resolve.restype = ctypes.c_int64
    lib.bpftime_agent_resolve.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.bpftime_agent_fire_id.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_size_t]
    lib.bpftime_agent_close.argtypes = [ctypes.c_void_p]
    lib.bpftime_agent_last_error.restype = ctypes.c_char_p
    if lib.bpftime_agent_open(b"bpftime_agent_no_such_segment") is not None or ctypes.get_errno() != errno.ENOENT:
        sys.exit("a missing segment was not refused")
    agent = lib.bpftime_agent_open(sys.argv[2].encode())
    if agent is None:
        sys.exit("open failed: " + lib.bpftime_agent_last_error().decode())
    ctx = ctypes.create_string_buffer(b"*" * 8)
    runs = sum(lib.bpftime_agent_fire(agent, b"tracepoint:7", ctx, 8) for _ in range(40))
    hook = lib.bpftime_agent_resolve(agent, b"uprobe:c-host:64")
    runs += sum(lib.bpftime_agent_fire_id(agent, hook, None, 0) for _ in range(10))
    bad = lib.bpftime_agent_fire(agent, b"uprobe:", None, 0)
    print(f"runs={runs} bad={bad} error={lib.bpftime_agent_last_error().decode()}")
    lib.bpftime_agent_close(agent)
    """

    @Test func pythonFiresHooksThroughCtypes() throws {
        let t = try segment()
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("\(t.name).py")
        try Self.pythonProgram.write(to: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: script) }
        let python = try run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", script.path, Built.library.path, t.name])
        #expect(python.ok, "\(python.stdout) \(python.stderr)")
        #expect(python.stdout.hasPrefix("runs=50 bad=-22 error=hook \"uprobe:\": "))
        #expect(try Fixture.value(t.segment, map: 1, slot: 0) == 50)
    }
}

@testable import BPFAgent
import Glibc
import Testing

@Suite struct HookTests {
    @Test func parsesEveryForm() throws {
        #expect(try Hook(parsing: "tracepoint:42") == .tracepoint(id: 42))
        #expect(try Hook(parsing: "demo-target:4096") == .uprobe(module: "demo-target", offset: 4096))
        #expect(try Hook(parsing: "uprobe:/usr/bin/demo:0x1a") == .uprobe(module: "/usr/bin/demo", offset: 0x1A))
        #expect(try Hook(parsing: "uretprobe:lib:with:colons.so:16") == .uretprobe(module: "lib:with:colons.so", offset: 16))
    }

    @Test(arguments: ["", "tracepoint:", "tracepoint:x", "tracepoint:99999999999", "uprobe:", ":12", "no_such_symbol_anywhere_42"])
    func rejectsBadHooks(_ text: String) {
        #expect(throws: HookError.self) { try Hook(parsing: text) }
    }

    @Test func unknownSymbolsAreENOENT() {
        do {
            _ = try Hook(parsing: "uretprobe:no_such_symbol_anywhere_42")
            Issue.record("resolved a symbol that does not exist")
        } catch {
            #expect(error.code == ENOENT)
        }
    }

    @Test func symbolsResolveToTheirFileAndFileOffset() throws {
        let hook = try Hook(parsing: "uretprobe:getpid")
        guard case .uretprobe(let module, let offset) = hook else { Issue.record("\(hook)"); return }
        #expect(module.hasPrefix("/"))
        #expect(module.contains("libc"))
        // Mapping the same file offset back through /proc/self/maps gives getpid's address.
        let address = UInt(bitPattern: dlsym(dlopen(nil, RTLD_NOW), "getpid"))
        let mapping = try #require(MappedFile.containing(address))
        #expect(mapping.path == module)
        #expect(UInt64(address - mapping.start) + mapping.fileOffset == offset)
    }

    @Test func matchesModulesByFileName() {
        let hook = Hook.uprobe(module: "/opt/bin/server", offset: 8)
        #expect(hook.matches(.uprobe(.init(moduleName: "server", offset: 8))))
        #expect(hook.matches(.uprobeOverride(.init(moduleName: "/usr/bin/server", offset: 8))))
        #expect(!hook.matches(.uprobe(.init(moduleName: "server2", offset: 8))))
        #expect(!hook.matches(.uretprobe(.init(moduleName: "server", offset: 8))))
        #expect(!hook.matches(.tracepoint(pid: -1, tracepointID: 8)))
    }

    @Test func parsesProcMapsLines() {
        let line = "7f1c2a000000-7f1c2a1b0000 r-xp 00028000 08:01 1234567                    /usr/lib/x86_64-linux-gnu/libc.so.6\n"
        let mapping = MappedFile.parse(line)
        #expect(mapping?.start == 0x7F1C_2A00_0000)
        #expect(mapping?.fileOffset == 0x28000)
        #expect(mapping?.path == "/usr/lib/x86_64-linux-gnu/libc.so.6")
        #expect(MappedFile.parse("7ffd1000-7ffd2000 rw-p 00000000 00:00 0                          [stack]\n") == nil)
        #expect(MappedFile.parse("garbage") == nil)
    }
}

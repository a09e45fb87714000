import BPFModel
import BPFObject
import TestSupport
import BPFVM
import Foundation
import Testing

/// What the loader resolves beyond the examples, and what it refuses (naming the culprit).
@Suite(.enabled(if: ExampleCompiler.clang != nil, Comment(rawValue: ExampleCompiler.skipReason)))
struct RefusalTests {
    func object(_ source: String, _ name: String, header: Bool = true) throws -> BPFObject {
        try BPFObject(bytes: ExampleCompiler.compile(source: source, name: name, header: header), fileName: "\(name).bpf.o", possibleCPUs: 4)
    }

    func refusal(_ source: String, _ name: String) throws -> String {
        do {
            _ = try object(source, name)
            return ""
        } catch let error as ObjectError {
            return error.description
        }
    }

    @Test func coreMovesFieldsOfAnotherLocalLayout() throws {
        // A local struct pt_regs with only two fields, in another order: CO-RE puts the x86-64 offsets in.
        let loaded = try object("""
        struct pt_regs { long si; long di; long ax; } __attribute__((preserve_access_index));
        SEC("uprobe/x:f") int f(struct pt_regs *ctx) { return ctx->di + ctx->si * 2 + ctx->ax; }
        """, "core_layout", header: false)
        let offsets = try Program(bytecode: loaded.programs[0].bytecode).instructions.filter { $0.opcode == 0x79 }.map(\.offset)
        #expect(Set(offsets) == Set(["di", "si", "ax"].map { Int16(X86PTRegs.offset(of: $0)!) }))
    }

    @Test func subprogramsAreAppendedAndCallsPatched() throws {
        let loaded = try object("""
        __attribute__((noinline)) int twice(int x) { return x * 2; }
        __attribute__((noinline)) static int thrice(int x) { return x * 3 + twice(x); }
        SEC("tracepoint/a/b") int one(void *ctx) { return twice(1) + thrice(2); }
        SEC("tracepoint/a/c") int two(void *ctx) { return thrice(5); }
        """, "subprograms")
        #expect(loaded.programs.map(\.name) == ["one", "two"])
        // Run each on the interpreter: the linked calls give the C results.
        for (program, expected) in zip(loaded.programs, [2 + (6 + 4), 15 + 10]) {
            let vm = try VirtualMachine(program: Program(bytecode: program.bytecode))
            let result = try vm.run(input: UnsafeMutableRawBufferPointer(start: nil, count: 0))
            #expect(Int(result) == expected, "\(program.name)")
        }
    }

    @Test func unsupportedThingsAreNamed() throws {
        #expect(try refusal("""
        int bpf_main(void *ctx) { return 0; }
        """, "text_only").contains("no program sections"))
        #expect(try refusal("""
        SEC("fentry/foo") int f(void *ctx) { return 0; }
        """, "unknown_section").contains("fentry/foo"))
        #expect(try refusal("""
        struct { __uint(type, 99); __uint(max_entries, 1); __type(key, int); __type(value, int); } weird SEC(".maps");
        SEC("uprobe") int f(void *ctx) { return bpf_map_lookup_elem(&weird, &(int){0}) != 0; }
        """, "unknown_map").contains("map weird: unknown map type 99"))
        #expect(try refusal("""
        struct task { int pid; } __attribute__((preserve_access_index));
        SEC("uprobe") int f(struct task *t) { return t->pid; }
        """, "other_core").contains("\"task\""))
        #expect(try refusal("""
        extern int LINUX_KERNEL_VERSION __attribute__((section(".kconfig"), weak));
        SEC("uprobe") int f(void *ctx) { return LINUX_KERNEL_VERSION; }
        """, "extern").contains("LINUX_KERNEL_VERSION"))
    }

    @Test func notAnObject() {
        func message(_ bytes: [UInt8]) -> String {
            do { _ = try BPFObject(bytes: bytes, fileName: "x.o", possibleCPUs: 1); return "" } catch { return error.description }
        }
        #expect(message(Array("{\"3\": {}}".utf8)).contains("not an ELF file"))
        var header = [UInt8](repeating: 0, count: 64)
        header[0 ..< 6] = [0x7f, 0x45, 0x4c, 0x46, 2, 2]
        #expect(message(header).contains("big-endian"))
        header[5] = 1
        header[18] = 62 // EM_X86_64
        #expect(message(header).contains("no section headers") || message(header).contains("EM_BPF"))
    }
}

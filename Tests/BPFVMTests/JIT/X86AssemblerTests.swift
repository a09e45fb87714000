import Testing
@testable import BPFVM

/// Encodings checked against an assembler's (llvm-mc -show-encoding) output for the same text.
@Suite struct X86AssemblerTests {
    typealias Case = (asm: String, bytes: [UInt8], emit: @Sendable (inout X86Assembler) -> Void)

    static let cases: [Case] = [
        ("mov rax, rdi", [0x48, 0x89, 0xf8], { a in a.mov(.rax, .rdi) }),
        ("mov r13d, ecx", [0x41, 0x89, 0xcd], { a in a.mov(.r13, .rcx, .b32) }),
        ("mov r15, r12", [0x4d, 0x89, 0xe7], { a in a.mov(.r15, .r12) }),
        ("xor r9d, r9d", [0x45, 0x31, 0xc9], { a in a.movImm(.r9, 0) }),
        ("mov eax, 0x5bd1e995", [0xb8, 0x95, 0xe9, 0xd1, 0x5b], { a in a.movImm(.rax, 0x5bd1e995) }),
        ("mov r14d, 1", [0x41, 0xbe, 0x01, 0x00, 0x00, 0x00], { a in a.movImm(.r14, 1) }),
        ("mov rbx, -2", [0x48, 0xc7, 0xc3, 0xfe, 0xff, 0xff, 0xff], { a in a.movImm(.rbx, UInt64(bitPattern: -2)) }),
        ("movabs r8, 0xcbf29ce484222325", [0x49, 0xb8, 0x25, 0x23, 0x22, 0x84, 0xe4, 0x9c, 0xf2, 0xcb], { a in a.movImm(.r8, 0xcbf29ce484222325) }),
        ("movzx eax, byte ptr [rdi]", [0x0f, 0xb6, 0x07], { a in a.load(.rax, .mem(.rdi, 0), .b8) }),
        ("movzx r11d, word ptr [rbp - 8]", [0x44, 0x0f, 0xb7, 0x5d, 0xf8], { a in a.load(.r11, .mem(.rbp, -8), .b16) }),
        ("mov ecx, dword ptr [r12 + 16]", [0x41, 0x8b, 0x4c, 0x24, 0x10], { a in a.load(.rcx, .mem(.r12, 16), .b32) }),
        ("mov rdx, qword ptr [r13]", [0x49, 0x8b, 0x55, 0x00], { a in a.load(.rdx, .mem(.r13, 0), .b64) }),
        ("mov rsi, qword ptr [rsp + 0x200]", [0x48, 0x8b, 0xb4, 0x24, 0x00, 0x02, 0x00, 0x00], { a in a.load(.rsi, .mem(.rsp, 0x200), .b64) }),
        ("movsx rax, byte ptr [rdi + 1]", [0x48, 0x0f, 0xbe, 0x47, 0x01], { a in a.loadSigned(.rax, .mem(.rdi, 1), .b8) }),
        ("movsx r14, word ptr [rbp - 2]", [0x4c, 0x0f, 0xbf, 0x75, 0xfe], { a in a.loadSigned(.r14, .mem(.rbp, -2), .b16) }),
        ("movsxd rbx, dword ptr [r8 + 4]", [0x49, 0x63, 0x58, 0x04], { a in a.loadSigned(.rbx, .mem(.r8, 4), .b32) }),
        ("movsx rdi, sil", [0x48, 0x0f, 0xbe, 0xfe], { a in a.loadSigned(.rdi, .reg(.rsi), .b8) }),
        ("movsx eax, dil", [0x40, 0x0f, 0xbe, 0xc7], { a in a.movsx32(.rax, .rdi, .b8) }),
        ("movsx r9d, r10w", [0x45, 0x0f, 0xbf, 0xca], { a in a.movsx32(.r9, .r10, .b16) }),
        ("movzx esi, si", [0x0f, 0xb7, 0xf6], { a in a.movzx(.rsi, .rsi, .b16) }),
        ("mov byte ptr [rbp - 1], sil", [0x40, 0x88, 0x75, 0xff], { a in a.store(.mem(.rbp, -1), .rsi, .b8) }),
        ("mov byte ptr [rax], bl", [0x88, 0x18], { a in a.store(.mem(.rax, 0), .rbx, .b8) }),
        ("mov word ptr [r13 + 2], cx", [0x66, 0x41, 0x89, 0x4d, 0x02], { a in a.store(.mem(.r13, 2), .rcx, .b16) }),
        ("mov dword ptr [rdi], r8d", [0x44, 0x89, 0x07], { a in a.store(.mem(.rdi, 0), .r8, .b32) }),
        ("mov qword ptr [r12 + 0x80], r15", [0x4d, 0x89, 0xbc, 0x24, 0x80, 0x00, 0x00, 0x00], { a in a.store(.mem(.r12, 0x80), .r15, .b64) }),
        ("mov byte ptr [rdi + 3], 0x7f", [0xc6, 0x47, 0x03, 0x7f], { a in a.storeImm(.mem(.rdi, 3), 0x7f, .b8) }),
        ("mov word ptr [rdi], 0x1234", [0x66, 0xc7, 0x07, 0x34, 0x12], { a in a.storeImm(.mem(.rdi, 0), 0x1234, .b16) }),
        ("mov dword ptr [rbp - 4], 0x11223344", [0xc7, 0x45, 0xfc, 0x44, 0x33, 0x22, 0x11], { a in a.storeImm(.mem(.rbp, -4), 0x11223344, .b32) }),
        ("mov qword ptr [rbp - 8], -1", [0x48, 0xc7, 0x45, 0xf8, 0xff, 0xff, 0xff, 0xff], { a in a.storeImm(.mem(.rbp, -8), -1, .b64) }),
        ("lea r11, [rdi + 0x10]", [0x4c, 0x8d, 0x5f, 0x10], { a in a.lea(.r11, .rdi, 0x10) }),
        ("lea r10, [r13 - 0x1000]", [0x4d, 0x8d, 0x95, 0x00, 0xf0, 0xff, 0xff], { a in a.lea(.r10, .r13, -0x1000) }),
        ("add rax, rdi", [0x48, 0x01, 0xf8], { a in a.alu(.add, .reg(.rax), .rdi) }),
        ("sub r14d, r15d", [0x45, 0x29, 0xfe], { a in a.alu(.sub, .reg(.r14), .r15, .b32) }),
        ("xor rax, r11", [0x4c, 0x31, 0xd8], { a in a.alu(.xor, .reg(.rax), .r11) }),
        ("cmp r10, qword ptr [r12 + 0x28]", [0x4d, 0x3b, 0x54, 0x24, 0x28], { a in a.alu(.cmp, .r10, .mem(.r12, 0x28)) }),
        ("sub r10, qword ptr [r12 + 8]", [0x4d, 0x2b, 0x54, 0x24, 0x08], { a in a.alu(.sub, .r10, .mem(.r12, 8)) }),
        ("and rcx, 0x7f", [0x48, 0x83, 0xe1, 0x7f], { a in a.alu(.and, .reg(.rcx), imm: 0x7f) }),
        ("or ebx, 0x10000", [0x81, 0xcb, 0x00, 0x00, 0x01, 0x00], { a in a.alu(.or, .reg(.rbx), imm: 0x10000, .b32) }),
        ("cmp rdx, -1", [0x48, 0x83, 0xfa, 0xff], { a in a.alu(.cmp, .reg(.rdx), imm: -1) }),
        ("add qword ptr [r12 + 0x40], 0x200", [0x49, 0x81, 0x44, 0x24, 0x40, 0x00, 0x02, 0x00, 0x00], { a in a.alu(.add, .mem(.r12, 0x40), imm: 0x200) }),
        ("test r11, r11", [0x4d, 0x85, 0xdb], { a in a.test(.r11, .r11) }),
        ("test esi, 0x100", [0xf7, 0xc6, 0x00, 0x01, 0x00, 0x00], { a in a.test(.rsi, imm: 0x100, .b32) }),
        ("imul rax, r14", [0x49, 0x0f, 0xaf, 0xc6], { a in a.imul(.rax, .r14) }),
        ("imul rax, rax, 0x5bd1e995", [0x48, 0x69, 0xc0, 0x95, 0xe9, 0xd1, 0x5b], { a in a.imul(.rax, .rax, imm: 0x5bd1e995) }),
        ("imul r8d, edi, 3", [0x44, 0x6b, 0xc7, 0x03], { a in a.imul(.r8, .rdi, imm: 3, .b32) }),
        ("neg r15", [0x49, 0xf7, 0xdf], { a in a.neg(.r15) }),
        ("div r11", [0x49, 0xf7, 0xf3], { a in a.div(.r11, signed: false) }),
        ("idiv r11d", [0x41, 0xf7, 0xfb], { a in a.div(.r11, signed: true, .b32) }),
        ("cqo", [0x48, 0x99], { a in a.signExtendAccumulator(.b64) }),
        ("cdq", [0x99], { a in a.signExtendAccumulator(.b32) }),
        ("shl rdi, cl", [0x48, 0xd3, 0xe7], { a in a.shiftByCL(.shl, .rdi) }),
        ("sar r13d, cl", [0x41, 0xd3, 0xfd], { a in a.shiftByCL(.sar, .r13, .b32) }),
        ("shr rdx, 29", [0x48, 0xc1, 0xea, 0x1d], { a in a.shift(.shr, .rdx, by: 29) }),
        ("rol r9w, 8", [0x66, 0x41, 0xc1, 0xc1, 0x08], { a in a.shift(.rol, .r9, by: 8, .b16) }),
        ("bswap eax", [0x0f, 0xc8], { a in a.bswap(.rax, .b32) }),
        ("bswap r14", [0x49, 0x0f, 0xce], { a in a.bswap(.r14, .b64) }),
        ("bswap r10d", [0x41, 0x0f, 0xca], { a in a.bswap(.r10, .b32) }),
        ("lock xadd qword ptr [rdi + 8], r11", [0xf0, 0x4c, 0x0f, 0xc1, 0x5f, 0x08], { a in a.lockXadd(.mem(.rdi, 8), .r11, .b64) }),
        ("lock xadd dword ptr [rbp - 4], esi", [0xf0, 0x0f, 0xc1, 0x75, 0xfc], { a in a.lockXadd(.mem(.rbp, -4), .rsi, .b32) }),
        ("xchg qword ptr [r10], rax", [0x49, 0x87, 0x02], { a in a.xchg(.mem(.r10, 0), .rax, .b64) }),
        ("lock cmpxchg dword ptr [r11], ecx", [0xf0, 0x41, 0x0f, 0xb1, 0x0b], { a in a.lockCmpxchg(.mem(.r11, 0), .rcx, .b32) }),
        ("lock or qword ptr [r12], r9", [0xf0, 0x4d, 0x09, 0x0c, 0x24], { a in a.lockALU(.or, .mem(.r12, 0), .r9, .b64) }),
        ("call qword ptr [r11 + 8]", [0x41, 0xff, 0x53, 0x08], { a in a.call(.mem(.r11, 8)) }),
        ("call rax", [0xff, 0xd0], { a in a.call(.reg(.rax)) }),
        ("push rbx", [0x53], { a in a.push(.rbx) }),
        ("push r15", [0x41, 0x57], { a in a.push(.r15) }),
        ("pop r12", [0x41, 0x5c], { a in a.pop(.r12) }),
        ("ret", [0xc3], { a in a.ret() }),
        ("cmovae r14, r10", [0x4d, 0x0f, 0x43, 0xf2], { a in a.cmov(.ae, .r14, .r10) }),
        ("cmovne rax, r10", [0x49, 0x0f, 0x45, 0xc2], { a in a.cmov(.ne, .rax, .r10) }),
    ]

    @Test func encodingsMatchTheAssembler() {
        for c in Self.cases {
            var a = X86Assembler()
            c.emit(&a)
            #expect(a.code == c.bytes, "\(c.asm)")
        }
    }

    @Test func jumpsResolveForwardAndBackward() {
        var a = X86Assembler()
        let top = a.newLabel(), end = a.newLabel()
        a.bind(top)
        a.jcc(.e, end)        // 0f 84 rel32 -> +5 (over the jmp)
        a.jmp(top)            // e9 rel32 -> -11
        a.bind(end)
        a.call(top)           // e8 rel32 -> -16
        #expect(a.finish() == [0x0f, 0x84, 5, 0, 0, 0, 0xe9, 0xf5, 0xff, 0xff, 0xff, 0xe8, 0xf0, 0xff, 0xff, 0xff])
    }

    /// Padding to a boundary is the longest recommended no-ops first, and nothing when aligned.
    @Test func alignPadsWithNoOps() {
        var a = X86Assembler()
        a.ret()
        a.ret()
        a.ret()
        a.align(16)
        #expect(a.code == [0xc3, 0xc3, 0xc3, 0x66, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0, 0x0f, 0x1f, 0x40, 0])
        a.align(16)
        #expect(a.code.count == 16)
        a.ret()
        a.align(4)
        #expect(a.code.suffix(4) == [0xc3, 0x0f, 0x1f, 0x00])
    }

    @Test func unboundLabelIsReported() {
        var a = X86Assembler()
        let nowhere = a.newLabel()
        a.jmp(nowhere)
        #expect(a.finish() == nil)
    }
}

import BPFModel
import Testing

@Test func ptRegsConstantsAgreeWithTheFieldTable() {
    #expect(X86PTRegs.size == X86PTRegs.fields.count * X86PTRegs.fieldSize)
    let constants = ["di": X86PTRegs.di, "si": X86PTRegs.si, "dx": X86PTRegs.dx, "cx": X86PTRegs.cx, "r8": X86PTRegs.r8,
                     "r9": X86PTRegs.r9, "ax": X86PTRegs.ax, "ip": X86PTRegs.ip, "sp": X86PTRegs.sp]
    for (name, offset) in constants { #expect(X86PTRegs.offset(of: name) == offset, "\(name)") }
    // The user-space header's names reach the same fields.
    #expect(X86PTRegs.offset(of: "rdi") == X86PTRegs.di && X86PTRegs.offset(of: "rsp") == X86PTRegs.sp)
    #expect(X86PTRegs.offset(of: "xmm0") == nil)
}

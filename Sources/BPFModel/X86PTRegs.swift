/// The x86-64 `struct pt_regs` that uprobe and kprobe programs get as their context: 21
/// 8-byte registers in the kernel's order. The agent fills it at a hooked call; the object
/// loader resolves CO-RE field relocations against it.
public enum X86PTRegs {
    /// Field names in layout order, as the kernel names them (`arch/x86/include/asm/ptrace.h`).
    public static let fields = ["r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8",
                                "ax", "cx", "dx", "si", "di", "orig_ax", "ip", "cs", "flags", "sp", "ss"]
    /// The same fields as the user-space header (`<asm/ptrace.h>` without `__KERNEL__`) names them.
    static let userFields = ["r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
                             "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss"]
    public static let fieldSize = 8
    public static let size = 21 * 8

    /// Byte offset of a field named either way; `nil` for a name the struct does not have.
    public static func offset(of field: String) -> Int? {
        (fields.firstIndex(of: field) ?? userFields.firstIndex(of: field)).map { $0 * fieldSize }
    }

    /// Offsets of the registers the agent fills, as constants (read on every hooked call).
    public static let di = 14 * 8, si = 13 * 8, dx = 12 * 8, cx = 11 * 8, r8 = 9 * 8, r9 = 8 * 8
    public static let ax = 10 * 8, ip = 16 * 8, sp = 19 * 8, bp = 4 * 8
}

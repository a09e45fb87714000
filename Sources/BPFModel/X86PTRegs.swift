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
    public static let size = fields.count * fieldSize

    /// Byte offset of a field named either way; `nil` for a name the struct does not have.
    public static func offset(of field: String) -> Int? {
        (fields.firstIndex(of: field) ?? userFields.firstIndex(of: field)).map { $0 * fieldSize }
    }

    /// Where the System V ABI passes integer arguments 1-6: di, si, dx, cx, r8, r9.
    public static let argumentOffsets = ["di", "si", "dx", "cx", "r8", "r9"].map { offset(of: $0)! }
    public static let returnValueOffset = offset(of: "ax")!
    public static let instructionPointerOffset = offset(of: "ip")!
    public static let stackPointerOffset = offset(of: "sp")!
}

import BPFModel

/// The registers of a hooked call (System V x86-64): what a uprobe or uretprobe program reads
/// from its `struct pt_regs` context (`PT_REGS_PARM1..6`, `PT_REGS_RC`, `PT_REGS_IP`,
/// `PT_REGS_SP`, `PT_REGS_FP`). Registers not named here read as zero.
public struct HookedCall: Equatable, Sendable {
    /// Integer arguments 1-6.
    public var di, si, dx, cx, r8, r9: UInt64
    /// The return value (uretprobes).
    public var ax: UInt64
    /// The hooked function's address (or, at a return, where it returns to).
    public var ip: UInt64
    /// The stack pointer at the hook.
    public var sp: UInt64
    /// The frame pointer at the hook: where `bpf_get_stack` starts its frame-pointer walk.
    public var bp: UInt64

    public init(di: UInt64 = 0, si: UInt64 = 0, dx: UInt64 = 0, cx: UInt64 = 0, r8: UInt64 = 0, r9: UInt64 = 0,
                ax: UInt64 = 0, ip: UInt64 = 0, sp: UInt64 = 0, bp: UInt64 = 0) {
        (self.di, self.si, self.dx, self.cx, self.r8, self.r9) = (di, si, dx, cx, r8, r9)
        (self.ax, self.ip, self.sp, self.bp) = (ax, ip, sp, bp)
    }

    /// Writes the call as an x86-64 `struct pt_regs` into `regs` (`X86PTRegs.size` bytes).
    @inline(__always)
    func write(to regs: UnsafeMutableRawPointer) {
        // Word stores: the struct is 21 words, fewer instructions than a call to memset.
        for offset in stride(from: 0, to: X86PTRegs.size, by: 8) { regs.storeBytes(of: UInt64(0), toByteOffset: offset, as: UInt64.self) }
        regs.storeBytes(of: di, toByteOffset: X86PTRegs.di, as: UInt64.self)
        regs.storeBytes(of: si, toByteOffset: X86PTRegs.si, as: UInt64.self)
        regs.storeBytes(of: dx, toByteOffset: X86PTRegs.dx, as: UInt64.self)
        regs.storeBytes(of: cx, toByteOffset: X86PTRegs.cx, as: UInt64.self)
        regs.storeBytes(of: r8, toByteOffset: X86PTRegs.r8, as: UInt64.self)
        regs.storeBytes(of: r9, toByteOffset: X86PTRegs.r9, as: UInt64.self)
        regs.storeBytes(of: ax, toByteOffset: X86PTRegs.ax, as: UInt64.self)
        regs.storeBytes(of: ip, toByteOffset: X86PTRegs.ip, as: UInt64.self)
        regs.storeBytes(of: sp, toByteOffset: X86PTRegs.sp, as: UInt64.self)
        regs.storeBytes(of: bp, toByteOffset: X86PTRegs.bp, as: UInt64.self)
    }
}

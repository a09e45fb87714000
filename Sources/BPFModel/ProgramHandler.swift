/// `bpf_prog_handler`: an eBPF program's bytecode and where it is attached.
public struct ProgramHandler: Equatable, Hashable, Sendable {
    public var name: String
    /// The program type (bpftime's `attr.type`: a `bpf_prog_type`, or a runtime-specific value
    /// such as bpftime's negative -16368, so signed as bpftime's `int`).
    public var type: Int32
    /// Raw instructions, 8 bytes per slot, little-endian as in the kernel's `struct bpf_insn`.
    public var bytecode: [UInt8]
    /// Perf events this program is attached to, in attach order.
    public var attachments: [Attachment]
    /// Ahead-of-time native code (a serialized `AOTImage`), opaque to every module but the VM,
    /// which refuses it when it no longer matches the bytecode.
    public var aotImage: [UInt8]?

    public init(name: String, type: Int32, bytecode: [UInt8], attachments: [Attachment] = [], aotImage: [UInt8]? = nil) {
        self.name = name
        self.type = type
        self.bytecode = bytecode
        self.attachments = attachments
        self.aotImage = aotImage
    }

    public static let instructionSize = 8
    /// The most instructions a program may have (the kernel's BPF_COMPLEXITY_LIMIT_INSNS, as
    /// the VM's validator): larger programs are refused when they are read, not when run.
    public static let maxInstructions = 1_000_000
    public var instructionCount: Int { bytecode.count / Self.instructionSize }

    public struct Attachment: Equatable, Hashable, Sendable {
        public var targetFD: Int
        /// Value of `bpf_get_attach_cookie` for runs through this attachment.
        public var cookie: UInt64
        public init(targetFD: Int, cookie: UInt64 = 0) {
            self.targetFD = targetFD
            self.cookie = cookie
        }
    }
}

/// `bpf_link_handler`: a program linked to a target (usually a perf event).
public struct LinkHandler: Equatable, Hashable, Sendable {
    public var programFD: Int
    public var targetFD: Int
    public var attachType: UInt32
    public var cookie: UInt64

    public init(programFD: Int, targetFD: Int, attachType: UInt32 = 0, cookie: UInt64 = 0) {
        self.programFD = programFD
        self.targetFD = targetFD
        self.attachType = attachType
        self.cookie = cookie
    }
}

/// `memfd_handler`: an anonymous file created by `memfd_create` in the target.
public struct MemfdHandler: Equatable, Hashable, Sendable {
    public var name: String
    public var flags: UInt32
    public init(name: String, flags: UInt32 = 0) {
        self.name = name
        self.flags = flags
    }
}

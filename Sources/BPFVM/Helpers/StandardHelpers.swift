/// Linux helper numbers and the helpers this VM implements for them.
public enum HelperID {
    public static let mapLookupElem: Int32 = 1
    public static let mapUpdateElem: Int32 = 2
    public static let mapDeleteElem: Int32 = 3
    public static let probeRead: Int32 = 4
    public static let ktimeGetNs: Int32 = 5
    public static let tracePrintk: Int32 = 6
    public static let getPrandomU32: Int32 = 7
    public static let getSmpProcessorID: Int32 = 8
    public static let tailCall: Int32 = 12
    public static let getCurrentPidTgid: Int32 = 14
    public static let getCurrentUidGid: Int32 = 15
    public static let getCurrentComm: Int32 = 16
    public static let probeReadStr: Int32 = 45
    public static let mapPushElem: Int32 = 87
    public static let mapPopElem: Int32 = 88
    public static let mapPeekElem: Int32 = 89
    public static let probeReadUser: Int32 = 112
    public static let probeReadKernel: Int32 = 113
    public static let probeReadUserStr: Int32 = 114
    public static let probeReadKernelStr: Int32 = 115
    public static let ktimeGetBootNs: Int32 = 125
    public static let ringbufOutput: Int32 = 130
    public static let ringbufReserve: Int32 = 131
    public static let ringbufSubmit: Int32 = 132
    public static let ringbufDiscard: Int32 = 133
    public static let ringbufQuery: Int32 = 134
    public static let getAttachCookie: Int32 = 174
    public static let perfEventOutput: Int32 = 25
    public static let getStackID: Int32 = 27
    public static let probeWriteUser: Int32 = 36
    public static let xdpAdjustHead: Int32 = 44
    public static let xdpAdjustTail: Int32 = 65
    public static let getStack: Int32 = 67
    public static let ktimeGetCoarseNs: Int32 = 160
    public static let getFuncIP: Int32 = 173
    public static let strncmp: Int32 = 182
    public static let overrideReturn: Int32 = 58
    public static let setRetval: Int32 = 187

    /// Linux's names of helpers bpftime offers that this VM does not, for messages refusing them.
    static let missing: [Int32: String] = [
        28: "csum_diff", 165: "snprintf", 181: "loop", 183: "get_func_arg",
        184: "get_func_ret", 185: "get_func_arg_cnt", 186: "get_retval",
    ]

    /// `id`, with Linux's name when it is one of `missing` (e.g. `28 (bpf_csum_diff)`).
    static func describe(_ id: Int32) -> String { missing[id].map { "\(id) (bpf_\($0))" } ?? "\(id)" }
}

enum StandardHelpers {
    static func register(in table: HelperTable) {
        MapHelpers.register(in: table)
        RingbufHelpers.register(in: table)
        ProbeReadHelpers.register(in: table)
        SystemHelpers.register(in: table)
        TracePrintk.register(in: table)
        TailCallHelper.register(in: table)
        TracingHelpers.register(in: table)
        ReturnOverrideHelpers.register(in: table)
        StackHelpers.register(in: table)
    }
}

extension UInt64 {
    /// A helper's `Int32` status as a register value (sign-extended, as Linux returns `long`).
    @inline(__always) init(status: Int32) { self = UInt64(bitPattern: Int64(status)) }
}

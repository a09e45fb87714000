/// Linux helper numbers (`enum bpf_func_id`) of the helpers this VM implements.
public enum HelperID: Int32, Sendable {
    case mapLookupElem = 1
    case mapUpdateElem = 2
    case mapDeleteElem = 3
    case probeRead = 4
    case ktimeGetNs = 5
    case tracePrintk = 6
    case getPrandomU32 = 7
    case getSmpProcessorID = 8
    case tailCall = 12
    case getCurrentPidTgid = 14
    case getCurrentUidGid = 15
    case getCurrentComm = 16
    case perfEventOutput = 25
    case getStackID = 27
    case probeWriteUser = 36
    case xdpAdjustHead = 44
    case probeReadStr = 45
    case overrideReturn = 58
    case xdpAdjustTail = 65
    case getStack = 67
    case mapPushElem = 87
    case mapPopElem = 88
    case mapPeekElem = 89
    case probeReadUser = 112
    case probeReadKernel = 113
    case probeReadUserStr = 114
    case probeReadKernelStr = 115
    case ktimeGetBootNs = 125
    case ringbufOutput = 130
    case ringbufReserve = 131
    case ringbufSubmit = 132
    case ringbufDiscard = 133
    case ringbufQuery = 134
    case ktimeGetCoarseNs = 160
    case getFuncIP = 173
    case getAttachCookie = 174
    case strncmp = 182
    case setRetval = 187

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

import BPFModel
import Glibc

/// A point in the target process where programs run, named as bpftime names perf events:
/// a function entry or return by module and offset, or a tracepoint by id.
public enum Hook: Hashable, Sendable, CustomStringConvertible {
    /// Function entry: runs programs attached to `uprobe` (and `uprobe_override`) events.
    case uprobe(module: String, offset: UInt64)
    /// Function return: runs programs attached to `uretprobe` events.
    case uretprobe(module: String, offset: UInt64)
    case tracepoint(id: Int32)

    public var description: String {
        switch self {
        case .uprobe(let module, let offset): "uprobe:\(module):0x\(String(offset, radix: 16))"
        case .uretprobe(let module, let offset): "uretprobe:\(module):0x\(String(offset, radix: 16))"
        case .tracepoint(let id): "tracepoint:\(id)"
        }
    }

    /// Whether a perf event fires on this hook. Modules match by file name, so a hook fired
    /// from `/opt/app/bin/server` matches an event on `server` and on `/usr/bin/server`.
    func matches(_ event: PerfEventHandler.Event) -> Bool {
        switch (self, event) {
        case (.uprobe(let module, let offset), .uprobe(let target)),
             (.uprobe(let module, let offset), .uprobeOverride(let target)),
             (.uretprobe(let module, let offset), .uretprobe(let target)):
            return offset == target.offset && Self.fileName(module) == Self.fileName(target.moduleName)
        case (.tracepoint(let id), .tracepoint(_, let tracepointID)):
            return id == tracepointID
        default:
            return false
        }
    }

    static func fileName(_ path: String) -> Substring {
        path.split(separator: "/", omittingEmptySubsequences: false).last ?? Substring(path)
    }
}

extension Hook {
    /// Parses the hook syntax of the C ABI:
    /// `tracepoint:ID`, `[uprobe:|uretprobe:]MODULE:OFFSET` (decimal or 0x-hex) or
    /// `[uprobe:|uretprobe:]SYMBOL`, a symbol of this process resolved to its module and offset.
    public init(parsing text: String) throws(HookError) {
        if text.hasPrefix("tracepoint:") {
            guard let id = Int32(text.dropFirst("tracepoint:".count)) else { throw HookError("bad tracepoint id in \"\(text)\"") }
            self = .tracepoint(id: id)
            return
        }
        var rest = Substring(text)
        var returning = false
        if rest.hasPrefix("uretprobe:") {
            returning = true
            rest = rest.dropFirst("uretprobe:".count)
        } else if rest.hasPrefix("uprobe:") {
            rest = rest.dropFirst("uprobe:".count)
        }
        guard !rest.isEmpty else { throw HookError("empty hook name in \"\(text)\"") }
        if let colon = rest.lastIndex(of: ":"), let offset = Self.number(rest[rest.index(after: colon)...]) {
            let module = String(rest[..<colon])
            guard !module.isEmpty else { throw HookError("no module name in \"\(text)\"") }
            self = returning ? .uretprobe(module: module, offset: offset) : .uprobe(module: module, offset: offset)
        } else {
            self = try Self.symbol(String(rest), returning: returning)
        }
    }

    private static func number(_ text: Substring) -> UInt64? {
        text.hasPrefix("0x") || text.hasPrefix("0X") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
    }
}

public struct HookError: Error, CustomStringConvertible, Sendable {
    public let description: String
    /// EINVAL for bad syntax, ENOENT for a symbol or address this process does not have.
    public let code: Int32
    init(_ description: String, code: Int32 = EINVAL) {
        self.description = description
        self.code = code
    }
}

import BPFAgent
import BPFLogging
import BPFSegment
import Glibc

// The C ABI of include/bpftime_agent.h. A handle is a retained `Agent`.

private let loggingReady: Void = BPFLog.bootstrap()

/// Runs `body` on the handle's agent without retaining it (the caller owns the handle).
@inline(__always)
private func withAgent<T>(_ raw: OpaquePointer?, _ body: (Agent) -> T) -> T? {
    guard let raw else { return nil }
    return Unmanaged<Agent>.fromOpaque(UnsafeRawPointer(raw))._withUnsafeGuaranteedRef(body)
}

@_cdecl("bpftime_agent_open")
public func bpftime_agent_open(_ name: UnsafePointer<CChar>?) -> OpaquePointer? {
    openAgent(name, budget: nil)
}

@_cdecl("bpftime_agent_open_with_budget")
public func bpftime_agent_open_with_budget(_ name: UnsafePointer<CChar>?, _ maxInstructions: UInt64) -> OpaquePointer? {
    guard maxInstructions > 0 else {
        errno = EINVAL
        _ = LastError.fail(EINVAL, "the instruction budget must be positive")
        return nil
    }
    return openAgent(name, budget: maxInstructions)
}

/// Opens an agent with the environment's options, `budget` overriding BPFTIME_AGENT_MAX_INSNS.
private func openAgent(_ name: UnsafePointer<CChar>?, budget: UInt64?) -> OpaquePointer? {
    _ = loggingReady
    let segmentName = name.map { String(cString: $0) } ?? SegmentConfiguration.environmentName
    do {
        var options = try AgentOptions.fromEnvironment()
        if let budget { options.vm.maxInstructions = budget }
        let agent = try Agent.open(segmentName: segmentName, options: options)
        return OpaquePointer(Unmanaged.passRetained(agent).toOpaque())
    } catch {
        let code: Int32 = switch error {
        case SegmentError.missing: ENOENT
        case SegmentError.permissionDenied, SegmentError.notOwned, SegmentError.unsafeMode: EACCES
        case SegmentError.invalidName: EINVAL
        case SegmentError.notOurFormat, SegmentError.notInitialised, SegmentError.otherLayoutVersion, SegmentError.truncated,
             SegmentError.corrupt, AgentError.inconsistentSegment: EBADMSG
        case AgentError.unknownEngine, AgentError.invalidBudget: EINVAL
        default: EIO
        }
        BPFLog.logger("bpftime.agent").error("cannot attach to segment \(segmentName): \(error)")
        _ = LastError.fail(code, "\(error)")
        errno = code
        return nil
    }
}

@_cdecl("bpftime_agent_resolve")
public func bpftime_agent_resolve(_ raw: OpaquePointer?, _ hook: UnsafePointer<CChar>?) -> Int64 {
    guard let hook else { return LastError.fail(EINVAL, "NULL hook name") }
    let name = String(cString: hook)
    let result = withAgent(raw) { agent -> Int64 in
        do throws(HookError) {
            return Int64(try agent.resolve(named: name).rawValue)
        } catch {
            return LastError.fail(error.code, "hook \"\(name)\": \(error)")
        }
    }
    return result ?? LastError.fail(EBADF, "NULL agent handle")
}

@_cdecl("bpftime_agent_fire_id")
public func bpftime_agent_fire_id(_ raw: OpaquePointer?, _ id: Int64, _ ctx: UnsafeRawPointer?, _ length: Int) -> Int32 {
    let context = UnsafeRawBufferPointer(start: ctx, count: ctx == nil ? 0 : length)
    return fired(raw, id) { $0.fire($1, context: context) }
}

/// `struct bpftime_call` of the header: six arguments, return value, ip, sp, bp.
private struct CCall { var args: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64); var ret, ip, sp, bp: UInt64 }

@_cdecl("bpftime_agent_fire_call")
public func bpftime_agent_fire_call(_ raw: OpaquePointer?, _ id: Int64, _ call: UnsafeRawPointer?) -> Int32 {
    let registers = hookedCall(call)
    return fired(raw, id) { $0.fire($1, call: registers) }
}

@_cdecl("bpftime_agent_fire_call_override")
public func bpftime_agent_fire_call_override(_ raw: OpaquePointer?, _ id: Int64, _ call: UnsafeRawPointer?,
                                             _ overridden: UnsafeMutablePointer<Int32>?, _ rc: UnsafeMutablePointer<UInt64>?) -> Int32 {
    let registers = hookedCall(call)
    var returnOverride: UInt64?
    let result = fired(raw, id) { $0.fire($1, call: registers, returnOverride: &returnOverride) }
    overridden?.pointee = returnOverride == nil ? 0 : 1
    if let returnOverride { rc?.pointee = returnOverride }
    return result
}

/// The registers of a C `struct bpftime_call` (all zero for NULL).
private func hookedCall(_ call: UnsafeRawPointer?) -> HookedCall {
    guard let c = call?.loadUnaligned(as: CCall.self) else { return HookedCall() }
    return HookedCall(di: c.args.0, si: c.args.1, dx: c.args.2, cx: c.args.3, r8: c.args.4, r9: c.args.5, ax: c.ret, ip: c.ip, sp: c.sp, bp: c.bp)
}

/// Fires hook `id` of the handle through `fire`, turning the agent's result into the C ABI's.
@inline(__always)
private func fired(_ raw: OpaquePointer?, _ id: Int64, _ fire: (Agent, HookID) -> Int) -> Int32 {
    guard let result = withAgent(raw, { fire($0, HookID(rawValue: Int32(truncatingIfNeeded: id))) }) else {
        return Int32(LastError.fail(EBADF, "NULL agent handle"))
    }
    guard result >= 0, Int64(Int32(truncatingIfNeeded: id)) == id else {
        return Int32(LastError.fail(EINVAL, "hook id \(id) was not returned by this handle"))
    }
    return Int32(clamping: result)
}

@_cdecl("bpftime_agent_fire")
public func bpftime_agent_fire(_ raw: OpaquePointer?, _ hook: UnsafePointer<CChar>?, _ ctx: UnsafeRawPointer?, _ length: Int) -> Int32 {
    let id = bpftime_agent_resolve(raw, hook)
    return id < 0 ? Int32(id) : bpftime_agent_fire_id(raw, id, ctx, length)
}

@_cdecl("bpftime_agent_detached")
public func bpftime_agent_detached(_ raw: OpaquePointer?) -> Int32 {
    withAgent(raw) { agent in
        agent.refreshNow()
        return agent.isDetached ? 1 : 0
    } ?? Int32(LastError.fail(EBADF, "NULL agent handle"))
}

@_cdecl("bpftime_agent_close")
public func bpftime_agent_close(_ raw: OpaquePointer?) {
    guard let raw else { return }
    Unmanaged<Agent>.fromOpaque(UnsafeRawPointer(raw)).release()
}

@_cdecl("bpftime_agent_last_error")
public func bpftime_agent_last_error() -> UnsafePointer<CChar> {
    LastError.current
}

/// The message of each thread's last failure, freed with the thread.
enum LastError {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { free($0) }
        return key
    }()
    /// The message before any failure: a literal, in the binary for the process's lifetime.
    private static let empty: StaticString = ""

    static var current: UnsafePointer<CChar> {
        let message = pthread_getspecific(key).map { UnsafeRawPointer($0) } ?? UnsafeRawPointer(empty.utf8Start)
        return message.assumingMemoryBound(to: CChar.self)
    }

    /// Records `message` and returns -code.
    static func fail(_ code: Int32, _ message: String) -> Int64 {
        free(pthread_getspecific(key))
        pthread_setspecific(key, strdup(message))
        return -Int64(code)
    }
}

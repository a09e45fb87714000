import BPFModel

/// The compact binary form of a handler, stored in one block per fd. Map contents are not
/// part of it: they live in the map's own storage.
enum HandlerCodec {
    static func encode(_ handler: Handler) -> [UInt8] {
        var out = ByteWriter()
        switch handler {
        case .program(let p):
            out.string(p.name)
            out.u32(p.type)
            out.bytes(p.bytecode)
            out.u64(UInt64(p.attachments.count))
            for a in p.attachments {
                out.i64(Int64(a.targetFD))
                out.u64(a.cookie)
            }
            // Last and only when present, so records written before AOT existed still decode.
            if let image = p.aotImage { out.bytes(image) }
        case .map(let m):
            out.string(m.name)
            let a = m.attributes
            for v in [a.mapType, a.keySize, a.valueSize, a.maxEntries] { out.u32(v) }
            out.u64(a.flags)
            for v in [a.ifindex, a.btfVmlinuxValueTypeID, a.btfID, a.btfKeyTypeID, a.btfValueTypeID] { out.u32(v) }
            out.u64(a.mapExtra)
            out.u32(a.kernelBPFMapID)
        case .perfEvent(let e):
            out.u8(e.enabled ? 1 : 0)
            switch e.event {
            case .uprobe(let t): out.u8(0); out.uprobe(t)
            case .uretprobe(let t): out.u8(1); out.uprobe(t)
            case .uprobeOverride(let t): out.u8(2); out.uprobe(t)
            case .tracepoint(let pid, let id): out.u8(3); out.i32(pid); out.i32(id)
            case .software(let cpu, let config, let sampleType): out.u8(4); out.i32(cpu); out.i64(config); out.i32(sampleType)
            }
        case .link(let l):
            out.i64(Int64(l.programFD))
            out.i64(Int64(l.targetFD))
            out.u32(l.attachType)
            out.u64(l.cookie)
        case .epoll:
            break
        case .memfd(let m):
            out.string(m.name)
            out.u32(m.flags)
        }
        return out.bytes
    }

    static func decode(kind: HandlerKind, _ bytes: UnsafeRawBufferPointer) throws(CodecError) -> Handler {
        var r = ByteReader(bytes)
        let handler: Handler
        switch kind {
        case .program:
            let name = try r.string(), type = try r.u32(), code = try r.bytes()
            let count = try r.count(elementBytes: 16)
            var attachments: [ProgramHandler.Attachment] = []
            attachments.reserveCapacity(count)
            for _ in 0..<count { attachments.append(.init(targetFD: Int(try r.i64()), cookie: try r.u64())) }
            let image = r.isAtEnd ? nil : try r.bytes()
            handler = .program(ProgramHandler(name: name, type: type, bytecode: code, attachments: attachments, aotImage: image))
        case .map:
            let name = try r.string()
            let attributes = MapAttributes(
                mapType: try r.u32(), keySize: try r.u32(), valueSize: try r.u32(), maxEntries: try r.u32(),
                flags: try r.u64(), ifindex: try r.u32(), btfVmlinuxValueTypeID: try r.u32(), btfID: try r.u32(),
                btfKeyTypeID: try r.u32(), btfValueTypeID: try r.u32(), mapExtra: try r.u64(), kernelBPFMapID: try r.u32())
            handler = .map(MapHandler(name: name, attributes: attributes))
        case .perfEvent:
            let enabled = try r.u8() != 0
            let event: PerfEventHandler.Event
            switch try r.u8() {
            case 0: event = .uprobe(try r.uprobe())
            case 1: event = .uretprobe(try r.uprobe())
            case 2: event = .uprobeOverride(try r.uprobe())
            case 3: event = .tracepoint(pid: try r.i32(), tracepointID: try r.i32())
            case 4: event = .software(cpu: try r.i32(), config: try r.i64(), sampleType: try r.i32())
            case let other: throw CodecError(text: "unknown perf event tag \(other)")
            }
            handler = .perfEvent(PerfEventHandler(event: event, enabled: enabled))
        case .link:
            handler = .link(LinkHandler(programFD: Int(try r.i64()), targetFD: Int(try r.i64()), attachType: try r.u32(), cookie: try r.u64()))
        case .epoll:
            handler = .epoll
        case .memfd:
            handler = .memfd(MemfdHandler(name: try r.string(), flags: try r.u32()))
        }
        guard r.isAtEnd else { throw CodecError(text: "\(r.remaining) trailing bytes after a \(kind.rawValue)") }
        return handler
    }

    /// Kind numbers as stored in record blocks: part of the segment layout, so fixed constants
    /// rather than anything derived from the order of `HandlerKind`'s cases.
    static func code(_ kind: HandlerKind) -> UInt32 {
        switch kind {
        case .program: 1
        case .map: 2
        case .perfEvent: 3
        case .link: 4
        case .epoll: 5
        case .memfd: 6
        }
    }
    static func kind(code: UInt32) -> HandlerKind? { HandlerKind.allCases.first { Self.code($0) == code } }
}

struct CodecError: Error { var text: String }

struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }
    mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    mutating func bytes(_ v: [UInt8]) { u64(UInt64(v.count)); bytes.append(contentsOf: v) }
    mutating func string(_ v: String) { bytes(Array(v.utf8)) }
    mutating func uprobe(_ t: PerfEventHandler.UprobeTarget) { string(t.moduleName); u64(t.offset); i32(t.pid); u64(t.refCtrOffset) }
}

/// Bounds-checked reading: corrupt lengths become errors, never out-of-range reads.
struct ByteReader {
    let buffer: UnsafeRawBufferPointer
    var at = 0
    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    var remaining: Int { buffer.count - at }
    var isAtEnd: Bool { at == buffer.count }

    private mutating func take(_ n: Int) throws(CodecError) -> UnsafeRawBufferPointer {
        guard n >= 0, n <= remaining else { throw CodecError(text: "field of \(n) bytes overruns the record (\(remaining) left)") }
        defer { at += n }
        return UnsafeRawBufferPointer(rebasing: buffer[at..<at + n])
    }
    mutating func u8() throws(CodecError) -> UInt8 { try take(1)[0] }
    mutating func u32() throws(CodecError) -> UInt32 { UInt32(littleEndian: try take(4).loadUnaligned(as: UInt32.self)) }
    mutating func u64() throws(CodecError) -> UInt64 { UInt64(littleEndian: try take(8).loadUnaligned(as: UInt64.self)) }
    mutating func i32() throws(CodecError) -> Int32 { Int32(bitPattern: try u32()) }
    mutating func i64() throws(CodecError) -> Int64 { Int64(bitPattern: try u64()) }
    /// A count of elements that must fit in what is left.
    mutating func count(elementBytes: Int) throws(CodecError) -> Int {
        let n = try u64()
        guard n <= UInt64(remaining / elementBytes) else { throw CodecError(text: "count \(n) overruns the record") }
        return Int(n)
    }
    mutating func bytes() throws(CodecError) -> [UInt8] { Array(try take(count(elementBytes: 1))) }
    mutating func string() throws(CodecError) -> String { String(decoding: try take(count(elementBytes: 1)), as: UTF8.self) }
    mutating func uprobe() throws(CodecError) -> PerfEventHandler.UprobeTarget {
        .init(moduleName: try string(), offset: try u64(), pid: try i32(), refCtrOffset: try u64())
    }
}

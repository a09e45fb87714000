import BPFModel

/// The compact binary form of a handler, stored in one block per fd. Map contents are not
/// part of it: they live in the map's own storage.
enum HandlerCodec {
    static func encode(_ handler: Handler) -> [UInt8] {
        var out = ByteWriter()
        switch handler {
        case .program(let p):
            out.string(p.name)
            out.u32(UInt32(bitPattern: p.type))
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
            out.fields(MapAttributes.fields, m.attributes.fieldValues)
        case .perfEvent(let e):
            out.u8(e.enabled ? 1 : 0)
            // Tags are part of the segment layout: fixed constants.
            switch e.event {
            case .uprobe: out.u8(0)
            case .uretprobe: out.u8(1)
            case .uprobeOverride: out.u8(2)
            case .tracepoint: out.u8(3)
            case .software: out.u8(4)
            case .opaque(let type, let target): out.u8(5); out.i32(type); out.u8(target == nil ? 0 : 1)
            }
            out.fields(e.event.fields, e.event.fieldValues)
        case .link(let l):
            out.fields(LinkHandler.fields, l.fieldValues)
        case .epoll:
            break
        case .memfd(let m):
            out.string(m.name)
            out.fields(MemfdHandler.fields, m.fieldValues)
        }
        return out.bytes
    }

    static func decode(kind: HandlerKind, _ bytes: UnsafeRawBufferPointer) throws(CodecError) -> Handler {
        var r = ByteReader(bytes)
        let handler: Handler
        switch kind {
        case .program:
            let name = try r.string(), type = Int32(bitPattern: try r.u32()), code = try r.bytes()
            let count = try r.count(elementBytes: 16)
            var attachments: [ProgramHandler.Attachment] = []
            attachments.reserveCapacity(count)
            for _ in 0..<count { attachments.append(.init(targetFD: Int(try r.i64()), cookie: try r.u64())) }
            let image = r.isAtEnd ? nil : try r.bytes()
            handler = .program(ProgramHandler(name: name, type: type, bytecode: code, attachments: attachments, aotImage: image))
        case .map:
            let name = try r.string()
            handler = .map(MapHandler(name: name, attributes: MapAttributes(fieldValues: try r.fields(MapAttributes.fields))))
        case .perfEvent:
            let enabled = try r.u8() != 0
            let event: PerfEventHandler.Event
            switch try r.u8() {
            case 0: event = try r.event(type: PerfEventType.uprobe)
            case 1: event = try r.event(type: PerfEventType.uretprobe)
            case 2: event = try r.event(type: PerfEventType.uprobeOverride)
            case 3: event = try r.event(type: PerfEventType.tracepoint)
            case 4: event = try r.event(type: PerfEventType.software)
            case 5:
                let type = try r.i32(), hasTarget = try r.u8() != 0
                event = .opaque(type: type, target: hasTarget ? .init(fieldValues: try r.fields(PerfEventHandler.UprobeTarget.fields)) : nil)
            case let other: throw CodecError(text: "unknown perf event tag \(other)")
            }
            handler = .perfEvent(PerfEventHandler(event: event, enabled: enabled))
        case .link:
            handler = .link(LinkHandler(fieldValues: try r.fields(LinkHandler.fields)))
        case .epoll:
            handler = .epoll
        case .memfd:
            handler = .memfd(MemfdHandler(name: try r.string(), fieldValues: try r.fields(MemfdHandler.fields)))
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
    /// Scalar fields at their types' widths, in their table's order (fds take 64 bits).
    mutating func fields(_ fields: [HandlerField], _ values: [FieldValue]) {
        for (field, value) in zip(fields, values) {
            switch field.type {
            case .u32, .i32: u32(UInt32(truncatingIfNeeded: value.bits))
            case .u64, .i64, .fd: i64(value.bits)
            case .string: string(value.text)
            }
        }
    }
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
    mutating func fields(_ fields: [HandlerField]) throws(CodecError) -> [FieldValue] {
        var values: [FieldValue] = []
        values.reserveCapacity(fields.count)
        for field in fields {
            switch field.type {
            case .u32: values.append(.unsigned(try u32()))
            case .i32: values.append(.integer(Int64(try i32())))
            case .u64, .i64, .fd: values.append(.integer(try i64()))
            case .string: values.append(.string(try string()))
            }
        }
        return values
    }
    mutating func event(type: Int32) throws(CodecError) -> PerfEventHandler.Event {
        .init(type: type, fieldValues: try fields(PerfEventHandler.Event.fields(type: type)))
    }
}

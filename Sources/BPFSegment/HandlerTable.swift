import BPFModel

/// The handler table: one 8-byte slot per fd holding the payload offset of the fd's record
/// block (0 = empty). Changing a slot is one store, so a reader under the lock always sees a
/// whole handler or none.
///
/// Record block: magic (u32), kind code (u32), map storage payload offset or 0 (u64),
/// encoded length (u64), fd (u64), then the `HandlerCodec` bytes. Records never change after
/// they are written; a new handler at an fd gets a new block.
struct HandlerTable {
    static let recordMagic: UInt32 = 0x4345_5248 // "HREC"
    static let recordHeaderBytes = 32

    let base: UnsafeMutableRawPointer
    let tableOffset: Int
    let maxHandlers: Int
    let allocator: Allocator

    init(_ header: Header) {
        base = header.base
        tableOffset = header.tableOffset
        maxHandlers = header.maxHandlers
        allocator = Allocator(header)
    }

    func slot(_ fd: Int) -> Int { base.offset(tableOffset + fd * 8) }
    func setSlot(_ fd: Int, _ payload: Int) { base.set64(tableOffset + fd * 8, UInt64(payload)) }

    /// The occupied fds, ascending.
    func occupied() -> [Int] { (0..<maxHandlers).filter { slot($0) != 0 } }

    struct Record {
        var fd: Int
        var payload: Int
        var kind: HandlerKind
        var storage: Int
        var bytes: UnsafeRawBufferPointer
    }

    /// The record at `fd`, validated against the allocator before any byte is trusted.
    func record(_ fd: Int) throws(CodecError) -> Record? {
        let payload = slot(fd)
        guard payload != 0 else { return nil }
        guard let capacity = allocator.capacity(ofPayload: payload) else {
            throw CodecError(text: "slot points at \(payload), which is not an allocated block")
        }
        guard capacity >= Self.recordHeaderBytes, base.u32(payload) == Self.recordMagic else {
            throw CodecError(text: "block at \(payload) is not a handler record")
        }
        guard let kind = HandlerCodec.kind(code: base.u32(payload + 4)) else {
            throw CodecError(text: "record at \(payload) has unknown kind code \(base.u32(payload + 4))")
        }
        let length = base.offset(payload + 16)
        guard length >= 0, length <= capacity - Self.recordHeaderBytes else {
            throw CodecError(text: "record at \(payload) claims \(length) bytes, its block holds \(capacity - Self.recordHeaderBytes)")
        }
        guard base.offset(payload + 24) == fd else { throw CodecError(text: "record at \(payload) belongs to fd \(base.u64(payload + 24))") }
        let bytes = UnsafeRawBufferPointer(start: base + payload + Self.recordHeaderBytes, count: length)
        return Record(fd: fd, payload: payload, kind: kind, storage: base.offset(payload + 8), bytes: bytes)
    }

    func handler(_ fd: Int) throws(CodecError) -> (Handler, Record)? {
        guard let record = try record(fd) else { return nil }
        return (try HandlerCodec.decode(kind: record.kind, record.bytes), record)
    }

    /// Writes a record block for `handler`; nil when the heap has no room.
    func writeRecord(fd: Int, _ handler: Handler, storage: Int) -> Int? {
        let encoded = HandlerCodec.encode(handler)
        guard let payload = allocator.allocate(Self.recordHeaderBytes + encoded.count) else { return nil }
        base.set32(payload, Self.recordMagic)
        base.set32(payload + 4, HandlerCodec.code(handler.kind))
        base.set64(payload + 8, UInt64(storage))
        base.set64(payload + 16, UInt64(encoded.count))
        base.set64(payload + 24, UInt64(fd))
        encoded.withUnsafeBytes { bytes in
            if let source = bytes.baseAddress { (base + payload + Self.recordHeaderBytes).copyMemory(from: source, byteCount: bytes.count) }
        }
        return payload
    }
}

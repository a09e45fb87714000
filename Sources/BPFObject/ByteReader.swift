/// Little-endian reads from a byte array where every offset and length is checked: a read past
/// the end throws an `ObjectError` naming `what`, never traps.
struct ByteReader {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var count: Int { bytes.count }

    /// `[offset, offset + length)` when it lies inside the bytes.
    func range(_ offset: UInt64, _ length: UInt64, _ what: @autoclosure () -> String) throws(ObjectError) -> Range<Int> {
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard !overflow, end <= UInt64(bytes.count) else {
            throw ObjectError("\(what()): bytes \(offset)..<\(offset &+ length) are outside the \(bytes.count)-byte data")
        }
        return Int(offset) ..< Int(end)
    }

    func slice(_ offset: UInt64, _ length: UInt64, _ what: @autoclosure () -> String) throws(ObjectError) -> ArraySlice<UInt8> {
        bytes[try range(offset, length, what())]
    }

    func u8(_ offset: Int, _ what: @autoclosure () -> String) throws(ObjectError) -> UInt8 {
        bytes[try range(UInt64(offset), 1, what()).lowerBound]
    }

    func u16(_ offset: Int, _ what: @autoclosure () -> String) throws(ObjectError) -> UInt16 {
        UInt16(truncatingIfNeeded: try little(offset, 2, what()))
    }

    func u32(_ offset: Int, _ what: @autoclosure () -> String) throws(ObjectError) -> UInt32 {
        UInt32(truncatingIfNeeded: try little(offset, 4, what()))
    }

    func u64(_ offset: Int, _ what: @autoclosure () -> String) throws(ObjectError) -> UInt64 {
        try little(offset, 8, what())
    }

    private func little(_ offset: Int, _ size: Int, _ what: @autoclosure () -> String) throws(ObjectError) -> UInt64 {
        guard offset >= 0 else { throw ObjectError("\(what()): negative offset \(offset)") }
        let r = try range(UInt64(offset), UInt64(size), what())
        var value: UInt64 = 0
        for i in r.reversed() { value = value << 8 | UInt64(bytes[i]) }
        return value
    }

    /// The NUL-terminated string at `offset` (which must be inside the bytes and terminated).
    func cString(_ offset: Int, _ what: @autoclosure () -> String) throws(ObjectError) -> String {
        guard offset >= 0, offset < bytes.count else {
            throw ObjectError("\(what()): string offset \(offset) is outside the \(bytes.count)-byte table")
        }
        guard let end = bytes[offset...].firstIndex(of: 0) else {
            throw ObjectError("\(what()): string at offset \(offset) is not terminated")
        }
        return String(decoding: bytes[offset ..< end], as: UTF8.self)
    }
}

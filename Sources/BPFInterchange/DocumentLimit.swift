extension BPFTimeJSON {
    /// The largest document that can describe a segment of `segmentBytes`: every stored byte
    /// written as two hex digits, with room for keys, names and indentation (a hash entry of
    /// a 4-byte key and 8-byte value takes about 40 bytes of JSON), plus 1 MiB for the frame.
    /// Readers refuse anything larger before parsing it.
    public static func maxDocumentBytes(segmentBytes: Int) -> Int {
        segmentBytes > Int.max / 16 ? Int.max : segmentBytes * 8 + (1 << 20)
    }
}

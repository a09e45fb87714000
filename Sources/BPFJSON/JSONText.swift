/// A small JSON value for `--json` outputs, the history server's API and the history's stored
/// attributes, written by `JSONWriter` (which bpftime's format streams through directly).
public enum JSONText: Sendable {
    case string(String)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case bool(Bool)
    case null
    case array([JSONText])
    case object([(String, JSONText)])

    public static func int(_ v: Int) -> JSONText { .int(Int64(v)) }

    /// The value indented by 2 spaces a level, as bpftool's `-p` prints.
    public func rendered() -> String { text(indent: 2) }

    /// The value on one line without spaces, as bpftool's `-j` prints (and the history stores
    /// attributes: that text is hashed, so its bytes never change for a given value).
    public var compact: String { text(indent: nil) }

    private func text(indent: Int?) -> String {
        var writer = JSONWriter(indent: indent, sink: nil)
        writer.value(self)
        return String(decoding: writer.out.contents, as: UTF8.self)
    }

    public static func quote(_ s: String) -> String { JSONEscapes.quoted(s) }
}

import BPFJSON
import BPFModel

/// bpftime's JSON interchange format (`bpftimetool export` / `import`), read and written.
///
/// A document is an object keyed by fd (decimal strings), each value one handler:
///
///     {
///         "3": {
///             "attr": { "btf_id": 1, ..., "map_type": 1, "max_entries": 1024, "value_size": 8 },
///             "data": { "01000000": "0a00000000000000" },
///             "name": "counts",
///             "type": "bpf_map_handler"
///         },
///         "5": { "attr": { "cnt": 2, "insns": "b700...", "type": 0 }, "name": "prog", "type": "bpf_prog_handler" }
///     }
///
/// Writing reproduces bpftime's exporter byte for byte (nlohmann `dump(4)`): every object's keys
/// sorted bytewise (so fd `"10"` comes before `"3"`), 4-space indentation, one array element per
/// line, no final newline. Program attachments, which bpftime's current exporter leaves out, are
/// written as `attr.attach_fds` (as older bpftime files have them) when there are any, with
/// `attr.attach_cookies` beside them when a cookie is set; links get `attach_type` and `cookie`
/// only when non-zero. An empty state is written as `{}` (nlohmann would print `null`; both read).
///
/// Reading takes that form, older bpftime files (perf events without `data_type`, uprobes with
/// `tracepoint_id`, any key order), and the `{"handlers": [{"fd": N, "type": ...}, ...]}` form of
/// bpftime's README; unknown fields are ignored. Everything is validated before anything is
/// returned; errors name the fd and field (`fd 5: attr.insns: odd-length hex`) or, for syntax,
/// the line and column.
///
/// **Map contents (our extension; bpftime has none, see its issue #307).** A map handler may
/// carry `"data"` (sorting between `"attr"` and `"name"`; bpftime ignores it):
/// - keyed maps (hash, array, LRU, ...): `{"<key hex>": "<value hex>", ...}`, keys in sorted order;
/// - per-CPU maps: `{"<key hex>": ["<cpu 0 value hex>", "<cpu 1 value hex>", ...], ...}`, every
///   entry with the same number of CPUs (that length is the CPU count);
/// - queue and stack: `["<value hex>", ...]`, oldest (first pushed) first.
/// Hex is lowercase on output (either case on input); keys are `key_size` bytes and values
/// `value_size` bytes, duplicates and more than `max_entries` entries are refused. `"data"` is
/// absent when the contents are unknown (`MapHandler.contents == nil`) or with `--no-data`.
public enum BPFTimeJSON {
    /// Parses and validates a whole document (either form). Returns records sorted by fd.
    public static func decodeDocument(_ bytes: UnsafeRawBufferPointer) throws -> [HandlerRecord] {
        try JSONSource.with(bytes) { try DocumentReader(source: $0).read() }
    }

    public static func decodeDocument(_ bytes: [UInt8]) throws -> [HandlerRecord] {
        try bytes.withUnsafeBytes { try decodeDocument($0) }
    }

    /// One handler object, as `bpftimetool load <fd> <json>` takes it.
    public static func decodeHandler(fd: Int, _ bytes: [UInt8]) throws -> Handler {
        try bytes.withUnsafeBytes { raw in
            try JSONSource.with(raw) { try DocumentReader(source: $0).readSingle(fd: fd) }
        }
    }

    /// Writes a document in bpftime's byte-exact style to `sink`, in chunks of a few hundred KiB:
    /// the text is never held whole, however big the maps.
    public static func write(_ records: [HandlerRecord], includeData: Bool,
                             to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try withoutActuallyEscaping(sink) { sink in
            var printer = JSONWriter(sink: sink)
            try printer.document(records, includeData: includeData)
            try printer.flush()
        }
    }

    /// The whole document in memory (for small states, tests and logs).
    public static func encodeDocument(_ records: [HandlerRecord], includeData: Bool) -> [UInt8] {
        var printer = JSONWriter(sink: nil)
        // Without a sink nothing can throw.
        try? printer.document(records, includeData: includeData)
        return printer.out.toArray()
    }

    /// One handler object, as `decodeHandler` reads it.
    public static func encodeHandler(_ handler: Handler, includeData: Bool) -> [UInt8] {
        var printer = JSONWriter(sink: nil)
        try? printer.handler(handler, includeData: includeData)
        return printer.out.toArray()
    }
}

extension JSONWriter {
    mutating func document(_ records: [HandlerRecord], includeData: Bool) throws {
        // nlohmann sorts the fd keys as strings.
        let ordered = records.map { (key: Array(String($0.fd).utf8), record: $0) }
            .sorted { $0.key.lexicographicallyPrecedes($1.key) }
        openObject()
        for (_, record) in ordered {
            key(decimal: record.fd)
            try handler(record.handler, includeData: includeData)
            try flushIfFull()
        }
        closeObject()
    }
}

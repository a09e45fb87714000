import BPFModel

/// Attribute-level differences, named as the `handler_states.attributes` JSON names them, so
/// what the diff reports is what a query at the sqlite3 prompt shows.
enum AttributeDiff {
    static func changes(_ old: Handler, _ new: Handler) -> [(name: String, old: String, new: String)] {
        let a = fields(old), b = fields(new)
        return Set(a.keys).union(b.keys).sorted { rank($0) == rank($1) ? $0 < $1 : rank($0) < rank($1) }.compactMap { name in
            let x = a[name] ?? "-", y = b[name] ?? "-"
            return x == y ? nil : (name, x, y)
        }
    }

    private static func rank(_ name: String) -> Int { name == "kind" ? 0 : name == "name" ? 1 : 2 }

    private static func fields(_ handler: Handler) -> [String: String] {
        var fields = ["kind": handler.kind.shortName]
        if let name = handler.name { fields["name"] = name }
        // The text was just written by the encoder, so it always reads.
        if let object = try? AttributeObject(StoredAttributes.encode(handler)) {
            for (key, value) in object.members { fields[key] = AttributeObject.text(value) }
        }
        if case .program(let p) = handler { fields["aot"] = aotSummary(p.aotImage) }
        return fields
    }

    /// AOT code is a blob beside the attributes: its size, and a hash prefix so that a
    /// recompiled image of the same size still shows as changed.
    private static func aotSummary(_ image: [UInt8]?) -> String {
        guard let image else { return "absent" }
        return "\(image.count) bytes (sha256 \(Hex.encode(Array(SHA256.hash(image).prefix(4)))))"
    }
}

import BPFJSON
import BPFModel

/// Handlers as bpftime's exporter writes them, members in nlohmann's (sorted) order.
extension JSONWriter {
    mutating func handler(_ handler: Handler, includeData: Bool) throws {
        openObject()
        switch handler {
        case .program(let p): program(p)
        case .map(let m): try map(m, includeData: includeData)
        case .perfEvent(let e): perfEvent(e)
        case .link(let l): link(l)
        case .epoll: break
        case .memfd(let m): memfd(m)
        }
        key("type")
        string(handler.kind.rawValue)
        closeObject()
    }

    private mutating func program(_ p: ProgramHandler) {
        key("attr")
        openObject()
        // bpftime's handler has an aot_insns field its exporter leaves out; ours writes it only
        // when there is native code, so other files stay byte-identical to bpftime's.
        if let image = p.aotImage { key("aot_insns"); hexString(image) }
        // bpftime's current exporter writes no attachments; older files carried attach_fds,
        // and cookies (ours) travel in a parallel array only when one is set.
        if p.attachments.contains(where: { $0.cookie != 0 }) {
            key("attach_cookies")
            openArray()
            for a in p.attachments { item(); integer(a.cookie) }
            closeArray()
        }
        if !p.attachments.isEmpty {
            key("attach_fds")
            openArray()
            for a in p.attachments { item(); integer(a.targetFD) }
            closeArray()
        }
        key("cnt"); integer(p.instructionCount)
        key("insns"); hexString(p.bytecode)
        key("type"); integer(p.type)
        closeObject()
        key("name"); string(p.name)
    }

    private mutating func map(_ m: MapHandler, includeData: Bool) throws {
        key("attr")
        fields(MapAttributes.fields, m.attributes.fieldValues)
        if includeData, let contents = m.contents {
            key("data")
            try mapData(contents, kind: m.attributes.kind)
        }
        // Ours, like "data" (bpftime has no frozen maps): written only for a frozen map.
        if includeData, m.frozen { key("frozen"); bool(true) }
        key("name"); string(m.name)
    }

    private mutating func perfEvent(_ e: PerfEventHandler) {
        key("attr")
        var extra = [(HandlerField("type", .i32), FieldValue.integer(Int64(e.event.typeCode)))]
        if let dataType = Self.dataType(e.event) { extra.append((HandlerField("data_type", .string), .string(dataType))) }
        fields(e.event.fields, e.event.fieldValues, extra: extra)
        key("enabled"); bool(e.enabled)
    }

    /// bpftime's name of the event's data (opaque events have none we know).
    private static func dataType(_ event: PerfEventHandler.Event) -> String? {
        switch event {
        case .uprobe, .uretprobe, .uprobeOverride: "uprobe_perf_event_data"
        case .tracepoint: "tracepoint_perf_event_data"
        case .software: "software_perf_event_shared_ptr"
        case .opaque: nil
        }
    }

    private mutating func link(_ l: LinkHandler) {
        key("attr")
        fields(LinkHandler.fields, l.fieldValues)
    }

    /// bpftime keeps a memfd's name inside `attr`.
    private mutating func memfd(_ m: MemfdHandler) {
        key("attr")
        fields(MemfdHandler.fields, m.fieldValues, extra: [(HandlerField("name", .string), .string(m.name))])
    }

    /// An object of scalar fields (and `extra` members), in nlohmann's sorted order; fields of
    /// ours are left out while zero.
    private mutating func fields(_ fields: [HandlerField], _ values: [FieldValue], extra: [(HandlerField, FieldValue)] = []) {
        var members = zip(fields, values).filter { !$0.0.ours || !$0.1.isZero } + extra
        members.sort { $0.0.name.utf8.lexicographicallyPrecedes($1.0.name.utf8) }
        openObject()
        for (field, value) in members {
            key(field: field.name)
            switch value {
            case .string(let text): string(text)
            case .integer(let bits): if field.isSigned { integer(bits) } else { integer(UInt64(bitPattern: bits)) }
            }
        }
        closeObject()
    }

    /// Our `"data"` extension (see `BPFTimeJSON`): keyed maps as an object sorted by key,
    /// per-CPU values as arrays, queue/stack values as an array oldest first.
    private mutating func mapData(_ c: MapContents, kind: MapKind?) throws {
        let stride = c.entryStride
        if kind?.isSequence == true {
            openArray()
            try c.values.withUnsafeBufferPointer { values in
                guard let v = values.baseAddress else { return }
                for i in 0..<c.count {
                    item()
                    hexString(v + i * stride, count: stride)
                    try flushIfFull()
                }
            }
            closeArray()
            return
        }
        // A keyed map with zero-size keys cannot exist (the kernel refuses key_size 0).
        let count = c.keySize > 0 ? min(c.count, c.keys.count / c.keySize) : 0
        let perCPU = kind?.isPerCPU == true
        openObject()
        try c.keys.withUnsafeBufferPointer { keys in
            try c.values.withUnsafeBufferPointer { values in
                guard count > 0, let k = keys.baseAddress, let v = values.baseAddress else { return }
                for i in KeyOrder.sorted(keys: k, keySize: c.keySize, count: count) {
                    key(hex: k + i * c.keySize, count: c.keySize)
                    if perCPU {
                        openArray()
                        for cpu in 0..<c.valuesPerEntry {
                            item()
                            hexString(v + i * stride + cpu * c.valueSize, count: c.valueSize)
                        }
                        closeArray()
                    } else {
                        hexString(v + i * stride, count: stride)
                    }
                    try flushIfFull()
                }
            }
        }
        closeObject()
    }
}

import BPFModel

/// Handlers as bpftime's exporter writes them, members in nlohmann's (sorted) order.
extension PrettyPrinter {
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
        let a = m.attributes
        key("attr")
        openObject()
        key("btf_id"); integer(a.btfID)
        key("btf_key_type_id"); integer(a.btfKeyTypeID)
        key("btf_value_type_id"); integer(a.btfValueTypeID)
        key("btf_vmlinux_value_type_id"); integer(a.btfVmlinuxValueTypeID)
        key("flags"); integer(a.flags)
        key("ifindex"); integer(a.ifindex)
        key("kernel_bpf_map_id"); integer(a.kernelBPFMapID)
        key("key_size"); integer(a.keySize)
        key("map_extra"); integer(a.mapExtra)
        key("map_type"); integer(a.mapType)
        key("max_entries"); integer(a.maxEntries)
        key("value_size"); integer(a.valueSize)
        closeObject()
        if includeData, let contents = m.contents {
            key("data")
            try mapData(contents, kind: a.kind)
        }
        // Ours, like "data" (bpftime has no frozen maps): written only for a frozen map.
        if includeData, m.frozen { key("frozen"); bool(true) }
        key("name"); string(m.name)
    }

    private mutating func perfEvent(_ e: PerfEventHandler) {
        key("attr")
        openObject()
        switch e.event {
        case .uprobe(let t), .uretprobe(let t), .uprobeOverride(let t):
            key("_module_name"); string(t.moduleName)
            key("data_type"); string("uprobe_perf_event_data")
            key("offset"); integer(t.offset)
            key("pid"); integer(t.pid)
            key("ref_ctr_off"); integer(t.refCtrOffset)
        case .tracepoint(let pid, let id):
            key("data_type"); string("tracepoint_perf_event_data")
            key("pid"); integer(pid)
            key("tracepoint_id"); integer(id)
        case .software(let cpu, let config, let sampleType):
            key("config"); integer(config)
            key("cpu"); integer(cpu)
            key("data_type"); string("software_perf_event_shared_ptr")
            key("sample_type"); integer(sampleType)
        case .opaque(_, let target):
            if let t = target {
                key("_module_name"); string(t.moduleName)
                key("offset"); integer(t.offset)
                key("pid"); integer(t.pid)
                key("ref_ctr_off"); integer(t.refCtrOffset)
            }
        }
        key("type"); integer(e.event.typeCode)
        closeObject()
        key("enabled"); bool(e.enabled)
    }

    private mutating func link(_ l: LinkHandler) {
        key("attr")
        openObject()
        if l.attachType != 0 { key("attach_type"); integer(l.attachType) }
        if l.cookie != 0 { key("cookie"); integer(l.cookie) }
        key("prog_fd"); integer(l.programFD)
        key("target_fd"); integer(l.targetFD)
        closeObject()
    }

    /// bpftime keeps a memfd's name inside `attr`.
    private mutating func memfd(_ m: MemfdHandler) {
        key("attr")
        openObject()
        key("flags"); integer(m.flags)
        key("name"); string(m.name)
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

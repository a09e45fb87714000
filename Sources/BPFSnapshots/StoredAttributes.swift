import BPFModel
import Foundation

/// A handler's attributes as the JSON text of `handler_states.attributes`: everything but its
/// kind, name and bulk content (instructions, map entries), which have their own columns.
/// Keys are sorted so that equal handlers give equal text (the text is part of the state hash).
enum StoredAttributes {
    static func encode(_ handler: Handler) -> String {
        switch handler {
        case .program(let p):
            json(ProgramAttributes(type: Int64(p.type), attachments: p.attachments.map {
                .init(targetFD: $0.targetFD, cookie: $0.cookie)
            }))
        case .map(let m): json(MapAttributesJSON(m.attributes, frozen: m.frozen))
        case .perfEvent(let e): json(PerfEventAttributes(e))
        case .link(let l):
            json(LinkAttributes(programFD: l.programFD, targetFD: l.targetFD, attachType: l.attachType, cookie: l.cookie))
        case .epoll: "{}"
        case .memfd(let m): json(MemfdAttributes(flags: m.flags))
        }
    }

    /// Rebuilds a handler from its stored columns; throws `DecodingError` on text this build
    /// cannot read. Read with `AttributeObject`, field by field as the structs below encode them.
    static func decode(kind: HandlerKind, name: String?, attributes: String,
                       bytecode: [UInt8]?, aotImage: [UInt8]?, contents: MapContents?) throws -> Handler {
        let a = try AttributeObject(attributes)
        switch kind {
        case .program:
            let type: Int64 = try a.integer(required: "type")
            return .program(ProgramHandler(
                name: name ?? "", type: Int32(truncatingIfNeeded: type), bytecode: bytecode ?? [],
                attachments: try a.objects(required: "attachments").map {
                    .init(targetFD: try $0.integer(required: "target_fd"), cookie: try $0.integer(required: "cookie"))
                }, aotImage: aotImage))
        case .map:
            let map = try MapAttributesJSON(stored: a)
            return .map(MapHandler(name: name ?? "", attributes: map.model, contents: contents, frozen: map.frozen == true))
        case .perfEvent:
            return .perfEvent(try PerfEventAttributes(stored: a).model())
        case .link:
            return .link(LinkHandler(programFD: try a.integer(required: "prog_fd"), targetFD: try a.integer(required: "target_fd"),
                                     attachType: try a.integer(required: "attach_type"), cookie: try a.integer(required: "cookie")))
        case .epoll:
            return .epoll
        case .memfd:
            return .memfd(MemfdHandler(name: name ?? "", flags: try a.integer(required: "flags")))
        }
    }

    private static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // These plain structs of numbers and strings always encode.
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

private struct ProgramAttributes: Encodable {
    /// Int64: histories written when the type was unsigned hold values above Int32.max, which
    /// mean the same 32-bit pattern.
    var type: Int64
    var attachments: [Attachment]
    struct Attachment: Encodable {
        var targetFD: Int
        var cookie: UInt64
        enum CodingKeys: String, CodingKey { case targetFD = "target_fd", cookie }
    }
}

private struct LinkAttributes: Encodable {
    var programFD: Int
    var targetFD: Int
    var attachType: UInt32
    var cookie: UInt64
    enum CodingKeys: String, CodingKey {
        case programFD = "prog_fd", targetFD = "target_fd", attachType = "attach_type", cookie
    }
}

private struct MemfdAttributes: Encodable {
    var flags: UInt32
}

/// bpftime's `bpf_map_attr` names, and `frozen` (present only when true, so that the text,
/// and so the state hash, of every map saved before it existed stays the same).
private struct MapAttributesJSON: Encodable {
    var map_type: UInt32, key_size: UInt32, value_size: UInt32, max_entries: UInt32, flags: UInt64
    var ifindex: UInt32, btf_vmlinux_value_type_id: UInt32, btf_id: UInt32, btf_key_type_id: UInt32
    var btf_value_type_id: UInt32, map_extra: UInt64, kernel_bpf_map_id: UInt32
    var frozen: Bool?

    init(_ a: MapAttributes, frozen: Bool) {
        self.frozen = frozen ? true : nil
        map_type = a.mapType; key_size = a.keySize; value_size = a.valueSize; max_entries = a.maxEntries
        flags = a.flags; ifindex = a.ifindex; btf_vmlinux_value_type_id = a.btfVmlinuxValueTypeID
        btf_id = a.btfID; btf_key_type_id = a.btfKeyTypeID; btf_value_type_id = a.btfValueTypeID
        map_extra = a.mapExtra; kernel_bpf_map_id = a.kernelBPFMapID
    }

    init(stored a: AttributeObject) throws {
        map_type = try a.integer(required: "map_type"); key_size = try a.integer(required: "key_size")
        value_size = try a.integer(required: "value_size"); max_entries = try a.integer(required: "max_entries")
        flags = try a.integer(required: "flags"); ifindex = try a.integer(required: "ifindex")
        btf_vmlinux_value_type_id = try a.integer(required: "btf_vmlinux_value_type_id"); btf_id = try a.integer(required: "btf_id")
        btf_key_type_id = try a.integer(required: "btf_key_type_id"); btf_value_type_id = try a.integer(required: "btf_value_type_id")
        map_extra = try a.integer(required: "map_extra"); kernel_bpf_map_id = try a.integer(required: "kernel_bpf_map_id")
        frozen = try a.bool("frozen")
    }

    var model: MapAttributes {
        MapAttributes(mapType: map_type, keySize: key_size, valueSize: value_size, maxEntries: max_entries,
                      flags: flags, ifindex: ifindex, btfVmlinuxValueTypeID: btf_vmlinux_value_type_id,
                      btfID: btf_id, btfKeyTypeID: btf_key_type_id, btfValueTypeID: btf_value_type_id,
                      mapExtra: map_extra, kernelBPFMapID: kernel_bpf_map_id)
    }
}

/// One flat object for every event type; fields a type lacks are absent.
private struct PerfEventAttributes: Encodable {
    var type: String
    var enabled: Bool
    var module_name: String?, offset: UInt64?, pid: Int32?, ref_ctr_offset: UInt64?
    var tracepoint_id: Int32?
    var cpu: Int32?, config: Int64?, sample_type: Int32?
    /// bpftime's numeric type of an opaque event (`type` is then "opaque").
    var code: Int32?

    init(_ e: PerfEventHandler) {
        type = e.event.typeName
        enabled = e.enabled
        switch e.event {
        case .uprobe(let t), .uretprobe(let t), .uprobeOverride(let t):
            module_name = t.moduleName; offset = t.offset; pid = t.pid; ref_ctr_offset = t.refCtrOffset
        case .tracepoint(let pid, let id):
            self.pid = pid; tracepoint_id = id
        case .software(let cpu, let config, let sampleType):
            self.cpu = cpu; self.config = config; sample_type = sampleType
        case .opaque(let code, let target):
            type = "opaque"
            self.code = code
            if let t = target { module_name = t.moduleName; offset = t.offset; pid = t.pid; ref_ctr_offset = t.refCtrOffset }
        }
    }

    init(stored a: AttributeObject) throws {
        guard let type = try a.string("type") else { throw AttributeObject.corrupt("perf event without type") }
        self.type = type
        enabled = try a.bool(required: "enabled")
        module_name = try a.string("module_name"); offset = try a.integer("offset"); pid = try a.integer("pid")
        ref_ctr_offset = try a.integer("ref_ctr_offset"); tracepoint_id = try a.integer("tracepoint_id")
        cpu = try a.integer("cpu"); config = try a.integer("config"); sample_type = try a.integer("sample_type")
        code = try a.integer("code")
    }

    func model() throws -> PerfEventHandler {
        func field<T>(_ value: T?, _ name: String) throws -> T {
            guard let value else { throw DecodingError.valueNotFound(T.self, .init(codingPath: [], debugDescription: "\(type) event without \(name)")) }
            return value
        }
        func target() throws -> PerfEventHandler.UprobeTarget {
            .init(moduleName: try field(module_name, "module_name"), offset: try field(offset, "offset"),
                  pid: try field(pid, "pid"), refCtrOffset: try field(ref_ctr_offset, "ref_ctr_offset"))
        }
        let event: PerfEventHandler.Event
        switch type {
        case "uprobe": event = .uprobe(try target())
        case "uretprobe": event = .uretprobe(try target())
        case "uprobe_override": event = .uprobeOverride(try target())
        case "tracepoint": event = .tracepoint(pid: try field(pid, "pid"), tracepointID: try field(tracepoint_id, "tracepoint_id"))
        case "software":
            event = .software(cpu: try field(cpu, "cpu"), config: try field(config, "config"), sampleType: try field(sample_type, "sample_type"))
        case "opaque": event = .opaque(type: try field(code, "code"), target: module_name == nil ? nil : try target())
        default:
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "unknown perf event type \(type)"))
        }
        return PerfEventHandler(event: event, enabled: enabled)
    }
}

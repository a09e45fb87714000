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
        case .map(let m): json(MapAttributesJSON(m.attributes))
        case .perfEvent(let e): json(PerfEventAttributes(e))
        case .link(let l):
            json(LinkAttributes(programFD: l.programFD, targetFD: l.targetFD, attachType: l.attachType, cookie: l.cookie))
        case .epoll: "{}"
        case .memfd(let m): json(MemfdAttributes(flags: m.flags))
        }
    }

    /// Rebuilds a handler from its stored columns; throws on text this build cannot read.
    static func decode(kind: HandlerKind, name: String?, attributes: String,
                       bytecode: [UInt8]?, aotImage: [UInt8]?, contents: MapContents?) throws -> Handler {
        let data = Data(attributes.utf8)
        let decoder = JSONDecoder()
        switch kind {
        case .program:
            let a = try decoder.decode(ProgramAttributes.self, from: data)
            return .program(ProgramHandler(
                name: name ?? "", type: Int32(truncatingIfNeeded: a.type), bytecode: bytecode ?? [],
                attachments: a.attachments.map { .init(targetFD: $0.targetFD, cookie: $0.cookie) }, aotImage: aotImage))
        case .map:
            let a = try decoder.decode(MapAttributesJSON.self, from: data)
            return .map(MapHandler(name: name ?? "", attributes: a.model, contents: contents))
        case .perfEvent:
            return .perfEvent(try decoder.decode(PerfEventAttributes.self, from: data).model())
        case .link:
            let a = try decoder.decode(LinkAttributes.self, from: data)
            return .link(LinkHandler(programFD: a.programFD, targetFD: a.targetFD, attachType: a.attachType, cookie: a.cookie))
        case .epoll:
            return .epoll
        case .memfd:
            let a = try decoder.decode(MemfdAttributes.self, from: data)
            return .memfd(MemfdHandler(name: name ?? "", flags: a.flags))
        }
    }

    private static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // These plain structs of numbers and strings always encode.
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

private struct ProgramAttributes: Codable {
    /// Int64: histories written when the type was unsigned hold values above Int32.max, which
    /// mean the same 32-bit pattern.
    var type: Int64
    var attachments: [Attachment]
    struct Attachment: Codable {
        var targetFD: Int
        var cookie: UInt64
        enum CodingKeys: String, CodingKey { case targetFD = "target_fd", cookie }
    }
}

private struct LinkAttributes: Codable {
    var programFD: Int
    var targetFD: Int
    var attachType: UInt32
    var cookie: UInt64
    enum CodingKeys: String, CodingKey {
        case programFD = "prog_fd", targetFD = "target_fd", attachType = "attach_type", cookie
    }
}

private struct MemfdAttributes: Codable {
    var flags: UInt32
}

/// bpftime's `bpf_map_attr` names.
private struct MapAttributesJSON: Codable {
    var map_type: UInt32, key_size: UInt32, value_size: UInt32, max_entries: UInt32, flags: UInt64
    var ifindex: UInt32, btf_vmlinux_value_type_id: UInt32, btf_id: UInt32, btf_key_type_id: UInt32
    var btf_value_type_id: UInt32, map_extra: UInt64, kernel_bpf_map_id: UInt32

    init(_ a: MapAttributes) {
        map_type = a.mapType; key_size = a.keySize; value_size = a.valueSize; max_entries = a.maxEntries
        flags = a.flags; ifindex = a.ifindex; btf_vmlinux_value_type_id = a.btfVmlinuxValueTypeID
        btf_id = a.btfID; btf_key_type_id = a.btfKeyTypeID; btf_value_type_id = a.btfValueTypeID
        map_extra = a.mapExtra; kernel_bpf_map_id = a.kernelBPFMapID
    }

    var model: MapAttributes {
        MapAttributes(mapType: map_type, keySize: key_size, valueSize: value_size, maxEntries: max_entries,
                      flags: flags, ifindex: ifindex, btfVmlinuxValueTypeID: btf_vmlinux_value_type_id,
                      btfID: btf_id, btfKeyTypeID: btf_key_type_id, btfValueTypeID: btf_value_type_id,
                      mapExtra: map_extra, kernelBPFMapID: kernel_bpf_map_id)
    }
}

/// One flat object for every event type; fields a type lacks are absent.
private struct PerfEventAttributes: Codable {
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

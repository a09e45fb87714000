import BPFInterchange
import BPFModel
@testable import BPFSnapshots
import Foundation
import GRDB
import Testing

/// The stored attribute text of every handler kind, byte for byte as the history holds it. The
/// text is hashed into every state's hash, so it must not change when the code that writes it
/// does: `stored` was captured from a history saved by the tool before the field tables
/// (`bpftimetool import` of `document`, then `snap save`, at 0e082bb).
@Suite struct StoredAttributesTests {
    @Test func everyKindIsStoredAsTheHistoryHoldsIt() throws {
        for record in try Self.records() {
            #expect(StoredAttributes.encode(record.handler) == Self.stored[record.fd], "fd \(record.fd)")
        }
    }

    @Test func textStoredBeforeReadsBackAsTheSameHandlers() throws {
        for record in try Self.records() {
            let handler = record.handler.withoutContents
            let text = try #require(Self.stored[record.fd])
            #expect(try StoredAttributes.decode(kind: handler.kind, name: handler.name, attributes: text,
                                                bytecode: handler.storedBytecode, aotImage: nil, contents: nil) == handler)
        }
    }

    /// A history saved before reads back, and saving the same state again reuses every stored
    /// state (same text, same hash) and diffs equal.
    @Test func aHistorySavedBeforeKeepsItsStates() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.db")
        let records = try Self.records()
        let store = try SnapshotStore(path: path)
        let first = try store.save(records, meta: Fixtures.meta)
        let queue = try DatabaseQueue(path: path)
        let before = try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT h.fd, st.attributes FROM snapshot_handlers h JOIN handler_states st ON st.id = h.state")
                .reduce(into: [Int: String]()) { $0[$1[0]] = $1[1] }
        }
        #expect(before == Self.stored)
        #expect(try store.records(of: first) == records)
        let second = try store.save(try store.records(of: first), meta: Fixtures.meta)
        #expect(try queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM handler_states") } == records.count)
        #expect(try store.diff(first, second).isEmpty)
    }

    static func records() throws -> [HandlerRecord] { try BPFTimeJSON.decodeDocument(Array(document.utf8)) }

    static let stored: [Int: String] = [
        3: "{\"btf_id\":0,\"btf_key_type_id\":0,\"btf_value_type_id\":0,\"btf_vmlinux_value_type_id\":0,\"flags\":1,\"ifindex\":0,\"kernel_bpf_map_id\":0,\"key_size\":4,\"map_extra\":18446744073709551615,\"map_type\":1,\"max_entries\":64,\"value_size\":8}",
        4: "{\"btf_id\":0,\"btf_key_type_id\":0,\"btf_value_type_id\":0,\"btf_vmlinux_value_type_id\":0,\"flags\":0,\"ifindex\":0,\"kernel_bpf_map_id\":0,\"key_size\":4,\"map_extra\":0,\"map_type\":5,\"max_entries\":8,\"value_size\":8}",
        5: "{\"btf_id\":0,\"btf_key_type_id\":0,\"btf_value_type_id\":0,\"btf_vmlinux_value_type_id\":0,\"flags\":0,\"ifindex\":0,\"kernel_bpf_map_id\":0,\"key_size\":0,\"map_extra\":0,\"map_type\":22,\"max_entries\":8,\"value_size\":4}",
        6: "{\"btf_id\":0,\"btf_key_type_id\":0,\"btf_value_type_id\":0,\"btf_vmlinux_value_type_id\":0,\"flags\":0,\"frozen\":true,\"ifindex\":0,\"kernel_bpf_map_id\":0,\"key_size\":4,\"map_extra\":0,\"map_type\":2,\"max_entries\":4,\"value_size\":4}",
        7: "{\"enabled\":true,\"module_name\":\"/lib/libc.so.6\",\"offset\":4660,\"pid\":42,\"ref_ctr_offset\":8,\"type\":\"uprobe\"}",
        8: "{\"enabled\":false,\"module_name\":\"/bin/x\",\"offset\":16,\"pid\":-1,\"ref_ctr_offset\":0,\"type\":\"uretprobe\"}",
        9: "{\"enabled\":false,\"module_name\":\"/bin/y\",\"offset\":18446744073709551615,\"pid\":-1,\"ref_ctr_offset\":0,\"type\":\"uprobe_override\"}",
        10: "{\"enabled\":false,\"pid\":-1,\"tracepoint_id\":611,\"type\":\"tracepoint\"}",
        11: "{\"config\":10,\"cpu\":2,\"enabled\":false,\"sample_type\":1024,\"type\":\"software\"}",
        12: "{\"attachments\":[{\"cookie\":99,\"target_fd\":7},{\"cookie\":0,\"target_fd\":8}],\"type\":2}",
        13: "{\"attach_type\":3,\"cookie\":18446744073709551615,\"prog_fd\":12,\"target_fd\":7}",
        14: "{}",
        15: "{\"flags\":1}",
        16: "{\"enabled\":true,\"module_name\":\"/lib/\\\"quoted\\\" \\\\ back/slash\",\"offset\":18446744073709551615,\"pid\":-2147483648,\"ref_ctr_offset\":0,\"type\":\"uprobe\"}",
        17: "{\"enabled\":false,\"module_name\":\"tab\\tnew\\nline\\u0001ctl\\b\\f\\r\\u001f\u{7f}\",\"offset\":0,\"pid\":-1,\"ref_ctr_offset\":0,\"type\":\"uretprobe\"}",
        18: "{\"enabled\":false,\"module_name\":\"na\u{ef}ve/\u{8def}\u{5f84}/\u{1f600}\u{2028}\u{202e}\",\"offset\":1,\"pid\":-1,\"ref_ctr_offset\":0,\"type\":\"uprobe\"}",
        19: "{\"enabled\":false,\"module_name\":\"\",\"offset\":2,\"pid\":-1,\"ref_ctr_offset\":0,\"type\":\"uprobe\"}",
        20: "{\"code\":-7,\"enabled\":false,\"type\":\"opaque\"}",
        21: "{\"code\":8,\"enabled\":true,\"module_name\":\"/k\",\"offset\":5,\"pid\":3,\"ref_ctr_offset\":4,\"type\":\"opaque\"}",
        22: "{\"config\":-9223372036854775808,\"cpu\":2147483647,\"enabled\":false,\"sample_type\":-1,\"type\":\"software\"}",
        23: "{\"attachments\":[{\"cookie\":18446744073709551615,\"target_fd\":7}],\"type\":-2147483648}",
        24: "{\"attach_type\":4294967295,\"cookie\":0,\"prog_fd\":23,\"target_fd\":7}",
        25: "{\"attachments\":[],\"type\":-16368}",
        26: "{\"flags\":0}",
    ]

    static let document = "{\u{a}    \"3\": {\u{a}        \"attr\": {\u{a}            \"btf_id\": 0,\u{a}            \"btf_key_type_id\": 0,\u{a}            \"btf_value_type_id\": 0,\u{a}            \"btf_vmlinux_value_type_id\": 0,\u{a}            \"flags\": 1,\u{a}            \"ifindex\": 0,\u{a}            \"kernel_bpf_map_id\": 0,\u{a}            \"key_size\": 4,\u{a}            \"map_extra\": 18446744073709551615,\u{a}            \"map_type\": 1,\u{a}            \"max_entries\": 64,\u{a}            \"value_size\": 8\u{a}        },\u{a}        \"name\": \"counts\",\u{a}        \"type\": \"bpf_map_handler\"\u{a}    },\u{a}    \"4\": {\u{a}        \"attr\": {\u{a}            \"btf_id\": 0,\u{a}            \"btf_key_type_id\": 0,\u{a}            \"btf_value_type_id\": 0,\u{a}            \"btf_vmlinux_value_type_id\": 0,\u{a}            \"flags\": 0,\u{a}            \"ifindex\": 0,\u{a}            \"kernel_bpf_map_id\": 0,\u{a}            \"key_size\": 4,\u{a}            \"map_extra\": 0,\u{a}            \"map_type\": 5,\u{a}            \"max_entries\": 8,\u{a}            \"value_size\": 8\u{a}        },\u{a}        \"name\": \"percpu\",\u{a}        \"type\": \"bpf_map_handler\"\u{a}    },\u{a}    \"5\": {\u{a}        \"attr\": {\u{a}            \"btf_id\": 0,\u{a}            \"btf_key_type_id\": 0,\u{a}            \"btf_value_type_id\": 0,\u{a}            \"btf_vmlinux_value_type_id\": 0,\u{a}            \"flags\": 0,\u{a}            \"ifindex\": 0,\u{a}            \"kernel_bpf_map_id\": 0,\u{a}            \"key_size\": 0,\u{a}            \"map_extra\": 0,\u{a}            \"map_type\": 22,\u{a}            \"max_entries\": 8,\u{a}            \"value_size\": 4\u{a}        },\u{a}        \"name\": \"queue\",\u{a}        \"type\": \"bpf_map_handler\"\u{a}    },\u{a}    \"6\": {\u{a}        \"attr\": {\u{a}            \"btf_id\": 0,\u{a}            \"btf_key_type_id\": 0,\u{a}            \"btf_value_type_id\": 0,\u{a}            \"btf_vmlinux_value_type_id\": 0,\u{a}            \"flags\": 0,\u{a}            \"ifindex\": 0,\u{a}            \"kernel_bpf_map_id\": 0,\u{a}            \"key_size\": 4,\u{a}            \"map_extra\": 0,\u{a}            \"map_type\": 2,\u{a}            \"max_entries\": 4,\u{a}            \"value_size\": 4\u{a}        },\u{a}        \"name\": \"nodata\",\u{a}        \"type\": \"bpf_map_handler\",\u{a}        \"data\": {},\u{a}        \"frozen\": true\u{a}    },\u{a}    \"7\": {\u{a}        \"attr\": {\u{a}            \"_module_name\": \"/lib/libc.so.6\",\u{a}            \"offset\": 4660,\u{a}            \"pid\": 42,\u{a}            \"ref_ctr_off\": 8,\u{a}            \"type\": 6\u{a}        },\u{a}        \"enabled\": true,\u{a}        \"type\": \"bpf_perf_event_handler\"\u{a}    },\u{a}    \"8\": {\u{a}        \"attr\": {\u{a}            \"_module_name\": \"/bin/x\",\u{a}            \"offset\": 16,\u{a}            \"pid\": -1,\u{a}            \"ref_ctr_off\": 0,\u{a}            \"type\": 7\u{a}        },\u{a}        \"enabled\": false,\u{a}        \"type\": \"bpf_perf_event_handler\"\u{a}    },\u{a}    \"9\": {\u{a}        \"attr\": {\u{a}            \"_module_name\": \"/bin/y\",\u{a}            \"offset\": 18446744073709551615,\u{a}            \"pid\": -1,\u{a}            \"ref_ctr_off\": 0,\u{a}            \"type\": 1008\u{a}        },\u{a}        \"enabled\": false,\u{a}        \"type\": \"bpf_perf_event_handler\"\u{a}    },\u{a}    \"10\": {\u{a}        \"attr\": {\u{a}            \"pid\": -1,\u{a}            \"tracepoint_id\": 611,\u{a}            \"type\": 2\u{a}        },\u{a}        \"enabled\": false,\u{a}        \"type\": \"bpf_perf_event_handler\"\u{a}    },\u{a}    \"11\": {\u{a}        \"attr\": {\u{a}            \"cpu\": 2,\u{a}            \"config\": 10,\u{a}            \"sample_type\": 1024,\u{a}            \"type\": 1\u{a}        },\u{a}        \"enabled\": false,\u{a}        \"type\": \"bpf_perf_event_handler\"\u{a}    },\u{a}    \"12\": {\u{a}        \"attr\": {\u{a}            \"insns\": \"b7000000010000009500000000000000\",\u{a}            \"type\": 2,\u{a}            \"attach_fds\": [\u{a}                7,\u{a}                8\u{a}            ],\u{a}            \"attach_cookies\": [\u{a}                99,\u{a}                0\u{a}            ]\u{a}        },\u{a}        \"name\": \"probe\",\u{a}        \"type\": \"bpf_prog_handler\"\u{a}    },\u{a}    \"13\": {\u{a}        \"attr\": {\u{a}            \"prog_fd\": 12,\u{a}            \"target_fd\": 7,\u{a}            \"attach_type\": 3,\u{a}            \"cookie\": 18446744073709551615\u{a}        },\u{a}        \"type\": \"bpf_link_handler\"\u{a}    },\u{a}    \"14\": {\u{a}        \"type\": \"epoll_handler\"\u{a}    },\u{a}    \"15\": {\u{a}        \"attr\": {\u{a}            \"flags\": 1,\u{a}            \"name\": \"mem\"\u{a}        },\u{a}        \"type\": \"memfd_handler\"\u{a}    },\u{a}    \"16\": {\u{a}        \"attr\": {\u{a}            \"_module_name\": \"/lib/\\\"quoted\\\" \\\\ back/slash\",\u{a}            \"offset\": 18446744073709551615,\u{a}            \"pid\": -2147483648,\u{a}            \"ref_ctr_off\": 0,\u{a}            \"type\": 6\u{a}        },\u{a}        \"enabled\": true,\u{a}        \"type\": \"bpf_perf_event_handler\"\u{a}    },\u{a}    \"17\": {\u{a}        \"attr\": {\u{a}            \"_module_name\": \"tab\\tnew\\nline\\u0001ctl\\b\\f\\r\\u001f\u{7f}\",\u{a}            \"offset\": 0,\u{a}            \"pid\": -1,\u{a}            \"ref_ctr_off\": 0,\u{a}            \"type\": 7\u{a}        },\u{a}        \"enabled\": false,\u{a}        \"type\": \"bpf_perf_event_handler\"\u{a}    },\u{a}    \"18\": {\u{a}        \"attr\": {\u{a}            \"_module_name\": \"na\u{ef}ve/\u{8def}\u{5f84}/\u{1f600}\u{2028}\u{202e}\",\u{a}            \"offset\": 1,\u{a}            \"pid\": -1,\u{a}            \"ref_ctr_off\": 0,\u{a}            \"type\": 6\u{a}        },\u{a}        \"enabled\": false,\u{a}        \"type\": \"bpf_perf_event_handler\"\u{a}    },\u{a}    \"19\": {\u{a}        \"attr\": {\u{a}            \"_module_name\": \"\",\u{a}            \"offset\": 2,\u{a}            \"pid\": -1,\u{a}            \"ref_ctr_off\": 0,\u{a}            \"type\": 6\u{a}        },\u{a}        \"enabled\": false,\u{a}        \"type\": \"bpf_perf_event_handler\"\u{a}    },\u{a}    \"20\": {\u{a}        \"attr\": {\u{a}            \"type\": -7\u{a}        },\u{a}        \"enabled\": false,\u{a}        \"type\": \"bpf_perf_event_handler\"\u{a}    },\u{a}    \"21\": {\u{a}        \"attr\": {\u{a}            \"_module_name\": \"/k\",\u{a}            \"offset\": 5,\u{a}            \"pid\": 3,\u{a}            \"ref_ctr_off\": 4,\u{a}            \"type\": 8\u{a}        },\u{a}        \"enabled\": true,\u{a}        \"type\": \"bpf_perf_event_handler\"\u{a}    },\u{a}    \"22\": {\u{a}        \"attr\": {\u{a}            \"cpu\": 2147483647,\u{a}            \"config\": -9223372036854775808,\u{a}            \"sample_type\": -1,\u{a}            \"type\": 1\u{a}        },\u{a}        \"enabled\": false,\u{a}        \"type\": \"bpf_perf_event_handler\"\u{a}    },\u{a}    \"23\": {\u{a}        \"attr\": {\u{a}            \"insns\": \"9500000000000000\",\u{a}            \"type\": -2147483648,\u{a}            \"attach_fds\": [\u{a}                7\u{a}            ],\u{a}            \"attach_cookies\": [\u{a}                18446744073709551615\u{a}            ]\u{a}        },\u{a}        \"name\": \"p\",\u{a}        \"type\": \"bpf_prog_handler\"\u{a}    },\u{a}    \"24\": {\u{a}        \"attr\": {\u{a}            \"prog_fd\": 23,\u{a}            \"target_fd\": 7,\u{a}            \"attach_type\": 4294967295\u{a}        },\u{a}        \"type\": \"bpf_link_handler\"\u{a}    },\u{a}    \"25\": {\u{a}        \"attr\": {\u{a}            \"insns\": \"9500000000000000\",\u{a}            \"type\": -16368\u{a}        },\u{a}        \"name\": \"redis\\\"\\b\",\u{a}        \"type\": \"bpf_prog_handler\"\u{a}    },\u{a}    \"26\": {\u{a}        \"attr\": {\u{a}            \"flags\": 0,\u{a}            \"name\": \"m\\f\"\u{a}        },\u{a}        \"type\": \"memfd_handler\"\u{a}    }\u{a}}"
}

private extension Handler {
    var withoutContents: Handler {
        guard case .map(var m) = self else { return self }
        m.contents = nil
        return .map(m)
    }

    var storedBytecode: [UInt8]? {
        if case .program(let p) = self { return p.bytecode }
        return nil
    }
}

import BPFModel
@testable import BPFSnapshots
import Foundation
import Testing

/// Runs the example queries of the README with the real sqlite3 shell against a real
/// database and checks what they return.
@Suite struct ExampleQueryTests {
    /// The queries of the README's "Example queries" section (other sections' queries need a
    /// history the tool recorded; their tests are end to end).
    static func exampleQueries() throws -> [String] {
        let text = try String(contentsOfFile: Fixtures.packageRoot + "/README.md", encoding: .utf8)
        let section = text.components(separatedBy: "### Example queries").dropFirst().first?
            .components(separatedBy: "\n##").first ?? ""
        return section.components(separatedBy: "```sql\n").dropFirst().compactMap { $0.components(separatedBy: "```").first }
    }

    @Test func readmeQueriesReturnWhatTheyDescribe() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.db")
        do {
            let store = try SnapshotStore(path: path)
            _ = try store.save(Fixtures.everyKind(), meta: SnapshotMeta(segmentName: "seg", host: "h", generation: 1, message: "first", tags: ["base"]))
            _ = try store.save(DiffTests.changedState(), meta: SnapshotMeta(segmentName: "seg", host: "h", generation: 2, message: "second"))
            _ = try store.save([], meta: SnapshotMeta(segmentName: "seg", host: "h", generation: 3, message: "undo"),
                               restoring: RestoreEntry(snapshot: 1, fds: [3, 20], selection: nil))
        }
        func column(_ rows: [[String: Any]], _ name: String) -> [String] {
            rows.map { row in row[name].map { $0 is NSNull ? "null" : "\($0)" } ?? "absent" }
        }
        let checks: [([[String: Any]]) -> Void] = [
            { rows in  // snapshot_list
                #expect(column(rows, "id") == ["1", "2", "3"])
                #expect(column(rows, "tags") == ["base", "null", "null"])
                #expect(column(rows, "handlers") == ["13", "13", "0"])
                #expect(column(rows, "message") == ["first", "second", "undo"])
                #expect(column(rows, "created_at").allSatisfy { $0.count == 23 && $0.hasPrefix("20") })
            },
            { rows in  // handlers of snapshot 2
                #expect(column(rows, "fd") == ["3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "15", "20"])
                #expect(column(rows, "kind") == ["map", "map", "map", "map", "perf_event", "perf_event", "perf_event",
                                                 "perf_event", "perf_event", "prog", "link", "memfd", "memfd"])
                #expect(column(rows, "name").first == "counts")
                #expect(column(rows, "attributes").first?.contains("\"max_entries\":128") == true)
            },
            { rows in  // programs
                #expect(column(rows, "snapshot") == ["1", "2"])
                #expect(column(rows, "name") == ["probe", "probe"])
                #expect(column(rows, "instructions") == ["2", "3"])
                #expect(column(rows, "attachments") == ["2", "2"])
                #expect(column(rows, "aot_bytes") == ["null", "null"])
            },
            { rows in  // maps
                #expect(column(rows, "name") == ["counts", "percpu", "queue", "nodata"])
                #expect(column(rows, "map_type") == ["hash", "percpu_hash", "queue", "array"])
                #expect(column(rows, "key_size") == ["4", "4", "0", "4"])
                #expect(column(rows, "entries") == ["3", "2", "3", "null"])
            },
            { rows in  // entries of counts
                #expect(column(rows, "key_hex") == ["00000003", "02000000", "05000000"])
                #expect(column(rows, "value_hex") == ["0700000000000000", "1500000000000000", "3200000000000000"])
            },
            { rows in  // history of one key
                #expect(column(rows, "snapshot") == ["1", "2"])
                #expect(column(rows, "message") == ["first", "second"])
                #expect(column(rows, "value_hex") == ["1400000000000000", "1500000000000000"])
            },
            { rows in  // uprobes from JSON
                #expect(column(rows, "fd") == ["7", "8", "9", "10", "11"])
                #expect(column(rows, "type") == ["uprobe", "uretprobe", "uprobe_override", "tracepoint", "software"])
                #expect(column(rows, "module").prefix(2) == ["/lib/libc.so.6", "/bin/x"])
                #expect(column(rows, "offset").prefix(2) == ["4660", "16"])
            },
            { rows in  // fds that differ
                #expect(column(rows, "fd") == ["3", "7", "12", "14", "20"])
                #expect(column(rows, "in_1") == ["1", "1", "1", "1", "0"])
                #expect(column(rows, "in_2") == ["1", "1", "1", "0", "1"])
            },
            { rows in  // restores
                #expect(column(rows, "snapshot") == ["1"])
                #expect(column(rows, "undo_snapshot") == ["3"])
                #expect(column(rows, "fds") == ["[3,20]"])
                #expect(column(rows, "segment_name") == ["seg"])
            },
            { rows in  // migrations
                #expect(column(rows, "version") == Schema.migrations.map { String($0.version) })
                #expect(column(rows, "checksum") == Schema.migrations.map(\.checksum))
            },
        ]
        let queries = try Self.exampleQueries()
        #expect(queries.count == checks.count)
        for (query, check) in zip(queries, checks) {
            check(try Fixtures.query(path, query))
        }
    }
}

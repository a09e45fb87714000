import BPFInterchange
import BPFModel
@testable import BPFSnapshots
import Foundation
import Testing

/// Runs the example queries of the README with the real sqlite3 shell against a history of the
/// shipped demo state and checks what they return.
@Suite struct ExampleQueryTests {
    /// The queries of the README's "Example queries" section (other sections' queries need a
    /// history the tool recorded; their tests are end to end).
    static func exampleQueries() throws -> [String] {
        let text = try String(contentsOfFile: Fixtures.packageRoot + "/README.md", encoding: .utf8)
        let section = text.components(separatedBy: "### Example queries").dropFirst().first?
            .components(separatedBy: "\n##").first ?? ""
        return section.components(separatedBy: "```sql\n").dropFirst().compactMap { $0.components(separatedBy: "```").first }
    }

    /// Scripts/demo-state.json, then the same after one more count into key 1, a new key 2 and
    /// the link at fd 7 removed: the history the README describes.
    static func demoHistory(_ path: String) throws {
        let demo = try BPFTimeJSON.decodeDocument(Fixtures.fileBytes(Fixtures.packageRoot + "/Scripts/demo-state.json"))
        var later = demo.filter { $0.fd != 7 }
        if let i = later.firstIndex(where: { $0.fd == 3 }), case .map(var m) = later[i].handler {
            m.contents = Fixtures.hashMap([(1, 7), (2, 3)])
            later[i].handler = .map(m)
        }
        let store = try SnapshotStore(path: path)
        _ = try store.save(demo, meta: SnapshotMeta(segmentName: "demo", host: "h", generation: 1, message: "first", tags: ["base"]))
        _ = try store.save(later, meta: SnapshotMeta(segmentName: "demo", host: "h", generation: 2, message: "second"))
        // The undo snapshot of a restore of snapshot 1 (which then found fds 3 and 7 different).
        _ = try store.save(later, meta: SnapshotMeta(segmentName: "demo", host: "h", generation: 3, message: "undo"),
                           restoring: RestoreEntry(snapshot: 1, fds: [3, 7], selection: nil))
    }

    @Test func readmeQueriesReturnWhatTheyDescribeOnTheDemoState() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.db")
        try Self.demoHistory(path)
        func column(_ rows: [[String: Any]], _ name: String) -> [String] {
            rows.map { row in row[name].map { $0 is NSNull ? "null" : "\($0)" } ?? "absent" }
        }
        let checks: [([[String: Any]]) -> Void] = [
            { rows in  // snapshot_list
                #expect(column(rows, "id") == ["1", "2", "3"])
                #expect(column(rows, "segment_name") == ["demo", "demo", "demo"])
                #expect(column(rows, "tags") == ["base", "null", "null"])
                #expect(column(rows, "handlers") == ["5", "4", "4"])
                #expect(column(rows, "message") == ["first", "second", "undo"])
                #expect(column(rows, "created_at").allSatisfy { $0.count == 23 && $0.hasPrefix("20") })
            },
            { rows in  // handlers of snapshot 2
                #expect(column(rows, "fd") == ["3", "4", "5", "6"])
                #expect(column(rows, "kind") == ["map", "prog", "prog", "perf_event"])
                #expect(column(rows, "name").prefix(3) == ["demo_counts", "count_calls", "sum_bytes"])
                #expect(column(rows, "attributes").first?.contains("\"max_entries\":1024") == true)
            },
            { rows in  // programs
                #expect(column(rows, "snapshot") == ["1", "1", "2", "2", "3", "3"])
                #expect(column(rows, "name") == ["count_calls", "sum_bytes", "count_calls", "sum_bytes", "count_calls", "sum_bytes"])
                #expect(column(rows, "instructions") == ["25", "9", "25", "9", "25", "9"])
                #expect(column(rows, "aot_bytes") == ["null", "null", "null", "null", "null", "null"])
            },
            { rows in  // maps
                #expect(column(rows, "name") == ["demo_counts"])
                #expect(column(rows, "map_type") == ["hash"])
                #expect(column(rows, "key_size") == ["4"])
                #expect(column(rows, "entries") == ["2"])
            },
            { rows in  // entries of demo_counts, decoded
                #expect(column(rows, "key_hex") == ["01000000", "02000000"])
                #expect(column(rows, "key_u64") == ["1", "2"])
                #expect(column(rows, "value_hex") == ["0700000000000000", "0300000000000000"])
                #expect(column(rows, "value_u64") == ["7", "3"])
            },
            { rows in  // history of one key
                #expect(column(rows, "snapshot") == ["1", "2", "3"])
                #expect(column(rows, "message") == ["first", "second", "undo"])
                #expect(column(rows, "value_u64") == ["5", "7", "7"])
            },
            { rows in  // map_key_changes
                #expect(column(rows, "snapshot") == ["1", "2", "2"])
                #expect(column(rows, "previous") == ["null", "1", "1"])
                #expect(column(rows, "key_hex") == ["01000000", "01000000", "02000000"])
                #expect(column(rows, "old_u64") == ["null", "5", "null"])
                #expect(column(rows, "new_u64") == ["5", "7", "3"])
                #expect(column(rows, "change") == ["added", "changed", "added"])
            },
            { rows in  // handler_changes
                #expect(column(rows, "fd") == ["3", "7"])
                #expect(column(rows, "kind") == ["map", "link"])
                #expect(column(rows, "change") == ["changed", "removed"])
                #expect(column(rows, "entries_changed") == ["1", "0"])
            },
            { rows in  // uprobes from JSON
                #expect(column(rows, "fd") == ["6"])
                #expect(column(rows, "type") == ["uprobe"])
                #expect(column(rows, "module") == ["bpftime-target"])
                #expect(column(rows, "offset") == ["563568"])
            },
            { rows in  // restores
                #expect(column(rows, "snapshot") == ["1"])
                #expect(column(rows, "undo_snapshot") == ["3"])
                #expect(column(rows, "fds") == ["[3,7]"])
                #expect(column(rows, "segment_name") == ["demo"])
            },
            { rows in  // migrations
                #expect(column(rows, "version") == Schema.migrations.map { String($0.version) })
                #expect(column(rows, "checksum") == Schema.migrations.map(\.checksum))
            },
        ]
        let queries = try Self.exampleQueries()
        #expect(queries.count == checks.count)
        for (query, check) in zip(queries, checks) {
            let rows = try Fixtures.query(path, query)
            #expect(!rows.isEmpty, "no rows from: \(query)")
            check(rows)
        }
    }

    /// The views on a history with layered map contents and two segments: the same answers
    /// as the store, and segments kept apart.
    @Test func changeViewsAgreeWithTheStoreOnLayeredContents() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.db")
        let store = try SnapshotStore(path: path)
        var map = LayerTests.ChangingMap(count: 8_000, seed: 3)
        var ids: [Int64] = []
        for _ in 0..<3 {
            ids.append(try store.save([map.record], meta: Fixtures.meta))
            map.change(40)
        }
        _ = try store.save([map.record], meta: SnapshotMeta(segmentName: "other", host: "h", generation: 1))
        #expect(try Fixtures.query(path, "SELECT count(*) AS n FROM map_contents WHERE base IS NOT NULL").first?["n"] as? Int == 2)

        let diff = try store.diff(ids[1], ids[2])
        let m = diff.changed.first?.mapChanges ?? MapContentsDiff()
        let rows = try Fixtures.query(path, "SELECT change, count(*) AS n FROM map_key_changes WHERE snapshot = \(ids[2]) GROUP BY change ORDER BY change")
        #expect(rows.map { "\($0["change"] ?? "") \($0["n"] ?? "")" } == ["added \(m.addedCount)", "changed \(m.changedCount)", "deleted \(m.removedCount)"])
        let changes = try Fixtures.query(path, "SELECT key_hex, old_value_hex, new_value_hex FROM map_key_changes WHERE snapshot = \(ids[2]) ORDER BY key")
        #expect(changes.map { [$0["key_hex"] as? String, $0["old_value_hex"] as? String, $0["new_value_hex"] as? String] }
                == m.entries.map { [Hex.encode($0.key), $0.old.map(Hex.encode), $0.new.map(Hex.encode)] })
        // The other segment's first snapshot is not compared with this segment's.
        let other = try Fixtures.query(path, "SELECT DISTINCT segment_name, previous, change FROM map_key_changes WHERE segment_name = 'other'")
        #expect(other.count == 1 && other.first?["change"] as? String == "added" && other.first?["previous"] is NSNull)
        #expect(try Fixtures.query(path, "SELECT count(*) AS n FROM map_entries WHERE snapshot = \(ids[2])").first?["n"] as? Int == map.entries.count)
    }
}

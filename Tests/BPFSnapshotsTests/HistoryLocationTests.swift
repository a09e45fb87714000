import BPFSnapshots
import Testing

@Suite struct HistoryLocationParsingTests {
    @Test func pathsAreSQLite() throws {
        for path in ["h.db", "/tmp/x/h.db", "./postgres:x", "dir/a://b", ""] {
            #expect(try HistoryLocation(path) == .sqlite(path: path))
        }
    }

    @Test func postgresURLs() throws {
        guard case .postgres(let a) = try HistoryLocation("postgresql://bob:pa%40ss@db.example:6543/fleet?sslmode=require") else {
            Issue.record("not PostgreSQL")
            return
        }
        #expect(a.user == "bob" && a.password == "pa@ss" && a.host == "db.example" && a.port == 6543)
        #expect(a.database == "fleet" && a.tls == .require)
        #expect(!a.redacted.contains("pa"), "\(a.redacted)")
        guard case .postgres(let b) = try HistoryLocation("postgres://u@localhost:5433/h?host=/tmp/pg") else {
            Issue.record("not PostgreSQL")
            return
        }
        #expect(b.isUnixSocket && b.host == "/tmp/pg" && b.tls == .prefer && b.password == nil)
    }

    @Test func otherSchemesAndBadURLsAreRefused() {
        #expect(throws: SnapshotError.unsupportedLocation(scheme: "mysql")) { try HistoryLocation("mysql://x/y") }
        #expect(throws: SnapshotError.self) { try HistoryLocation("postgres://u:pw@h/db?sslmode=sometimes") }
        #expect(throws: SnapshotError.self) { try HistoryLocation("postgres://u:pw@h:99999/db") }
    }
}

import Foundation

/// A private PostgreSQL server for one test run: `initdb` into a temporary directory, `pg_ctl
/// start` on a free loopback port with its unix socket in that directory, a database and a
/// password user for the tests, and `pg_ctl stop` at the end. No system service is assumed; as
/// root (CI) the server runs as the `postgres` user the Debian package creates, since PostgreSQL
/// refuses to run as root.
///
/// Sendable: tests share one cluster (`shared`); its only mutable state, `stopped`, is guarded
/// by `lock`.
public final class PostgresCluster: @unchecked Sendable {
    public let directory: URL
    public let port: Int
    public let user = "fleet"
    public let password: String
    public let database = "fleet"
    /// True when the server accepts TLS (a self-signed certificate made for this cluster).
    public let tls: Bool
    private let lock = NSLock()
    private var stopped = false
    /// `pg_ctl start -o` settings: the port, the socket directory, TLS.
    private let settings: [String]

    /// Where Debian's package puts the server's programs, newest version first.
    public static let binaries: URL? = {
        let root = URL(fileURLWithPath: "/usr/lib/postgresql")
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return versions.sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }
            .map { root.appendingPathComponent("\($0)/bin") }
            .first { FileManager.default.isExecutableFile(atPath: $0.appendingPathComponent("initdb").path) }
    }()

    /// Starts a new cluster; `tls` also makes a certificate and turns `ssl` on.
    public init(tls: Bool = false) throws {
        guard let bin = Self.binaries else {
            throw Failure("PostgreSQL's server is not installed (Scripts/setup.sh installs Debian's postgresql)")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pg_\(getpid())_\(UInt32.random(in: 0 ... .max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        password = "pw-\(UInt64.random(in: 0 ... .max))"
        port = try Self.freePort()
        self.tls = tls
        settings = ["-p \(port)", "-k \(directory.path)", "-c listen_addresses=127.0.0.1", "-c fsync=off"] + (tls ? ["-c ssl=on"] : [])
        let data = directory.appendingPathComponent("data").path
        if getuid() == 0 { try Self.shell("chown postgres: \(directory.path)") }
        _ = try runAsServerUser([bin.appendingPathComponent("initdb").path, "-D", data, "-U", "postgres",
                             "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"])
        if tls {
            _ = try runAsServerUser(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                                 "-keyout", "\(data)/server.key", "-out", "\(data)/server.crt"])
            // TLS only: a connection without it finds no pg_hba.conf entry.
            _ = try runAsServerUser(["sh", "-c", "printf 'local all all trust\\nhostssl all all 127.0.0.1/32 scram-sha-256\\n' > \(data)/pg_hba.conf"])
        }
        try start()
        do {
            try superuser("CREATE ROLE \(user) LOGIN PASSWORD '\(password)'")
            try superuser("CREATE DATABASE \(database) OWNER \(user)")
        } catch {
            stop()
            throw error
        }
    }

    deinit { stop() }

    /// `postgres://fleet:PASSWORD@127.0.0.1:PORT/fleet` (`query` appended after `?`).
    public func url(database: String? = nil, password: String? = nil, query: String = "") -> String {
        "postgres://\(user):\(password ?? self.password)@127.0.0.1:\(port)/\(database ?? self.database)" + (query.isEmpty ? "" : "?\(query)")
    }

    /// A new empty database owned by the tests' user, for one test; returns its URL.
    public func newDatabase(query: String = "") throws -> String {
        let name = "h\(UInt32.random(in: 0 ... .max))"
        try superuser("CREATE DATABASE \(name) OWNER \(user)")
        return url(database: name, query: query)
    }

    /// The cluster every test of a run shares (each test makes its own database), started on
    /// first use and stopped when the test process exits.
    public static let shared: Result<PostgresCluster, any Error> = {
        let cluster = Result { try PostgresCluster() }
        if case .success = cluster { atexit { if case .success(let c) = PostgresCluster.shared { c.stop() } } }
        return cluster
    }()

    /// Runs SQL as the superuser over the unix socket; returns psql's unaligned output.
    @discardableResult
    public func superuser(_ sql: String, database: String = "postgres") throws -> String {
        try runAsServerUser([Self.binaries!.appendingPathComponent("psql").path, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                             "-h", directory.path, "-p", String(port), "-U", "postgres", "-d", database, "-c", sql])
    }

    /// Runs SQL through psql as the tests' user (over TCP, with its password), unaligned.
    public func psql(_ sql: String, url: String) throws -> String {
        try Self.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
    }

    /// Starts the server (again, after `halt`) on the same port and data.
    public func start() throws {
        _ = try runAsServerUser([Self.binaries!.appendingPathComponent("pg_ctl").path, "start", "-w", "-D", directory.appendingPathComponent("data").path,
                             "-l", directory.appendingPathComponent("server.log").path, "-o", settings.joined(separator: " ")])
    }

    /// Stops the server at once (immediate shutdown: every connection is cut, as in a crash),
    /// keeping its data for `start`.
    public func halt() throws {
        _ = try runAsServerUser([Self.binaries!.appendingPathComponent("pg_ctl").path, "stop", "-m", "immediate", "-w",
                             "-D", directory.appendingPathComponent("data").path])
    }

    /// Stops the server (fast shutdown) and removes its directory.
    public func stop() {
        let first = lock.withLock {
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        _ = try? runAsServerUser([Self.binaries!.appendingPathComponent("pg_ctl").path, "stop", "-m", "fast", "-w",
                                  "-D", directory.appendingPathComponent("data").path])
        try? FileManager.default.removeItem(at: directory)
    }

    private func runAsServerUser(_ arguments: [String]) throws -> String {
        try Self.run(getuid() == 0 ? ["runuser", "-u", "postgres", "--"] + arguments : arguments)
    }

    /// A port nothing listens on now (the kernel's choice for port 0).
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw Failure("no free port: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func shell(_ command: String) throws { _ = try run(["/bin/sh", "-c", command]) }

    /// Runs a program (looked up in PATH), returning stdout; a non-zero exit throws with stderr.
    /// Output goes through files, and the child is spawned and reaped here rather than by
    /// Foundation's `Process`, which loses the exit of `pg_ctl start` (its server lives on).
    @discardableResult
    public static func run(_ arguments: [String]) throws -> String {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("pgrun_\(getpid())_\(UInt32.random(in: 0 ... .max))").path
        let outPath = scratch + ".out", errPath = scratch + ".err"
        defer {
            unlink(outPath)
            unlink(errPath)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = (["/usr/bin/env"] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/usr/bin/env", &actions, nil, argv, environ)
        guard spawned == 0 else { throw Failure("cannot run \(arguments[0]): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let output = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        guard status == 0 else {
            let errors = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
            throw Failure("\(arguments.prefix(4).joined(separator: " ")) failed (status \(status)): \(errors)")
        }
        return output
    }

    /// Why the cluster could not do what was asked.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}

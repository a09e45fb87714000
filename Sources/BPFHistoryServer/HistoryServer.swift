import BPFJSON
import BPFLogging
import BPFReports
import Foundation
import Hummingbird
import Logging

/// `snap serve`: the routes of a `HistoryBrowser` over HTTP (Hummingbird), until SIGINT or SIGTERM.
public struct HistoryServer: Sendable {
    public let browser: HistoryBrowser
    public let host: String
    public let port: Int

    public init(browser: HistoryBrowser, host: String, port: Int) {
        self.browser = browser
        self.host = host
        self.port = port
    }

    /// True for the loopback addresses, the only ones served without a warning.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Serves until the process is told to stop; `onListening` gets the port actually bound
    /// (useful with port 0).
    public func run(onListening: @escaping @Sendable (Int) -> Void) async throws {
        let router = Router()
        let b = browser
        router.get("/") { r, _ in await Self.page { try b.timeline(Self.query(r)) } }
        router.get("/snapshots/:id") { _, c in await Self.page { try b.snapshotPage(c.parameters.require("id")) } }
        router.get("/snapshots/:id/programs/:fd") { _, c in
            await Self.page { try b.programPage(c.parameters.require("id"), fd: c.parameters.require("fd")) }
        }
        router.get("/snapshots/:id/maps/:fd") { r, c in
            await Self.page { try b.mapPage(c.parameters.require("id"), fd: c.parameters.require("fd"), Self.query(r)) }
        }
        router.get("/diff") { r, _ in await Self.page { try b.diffPage(Self.query(r)) } }
        router.get("/plot") { r, _ in await Self.page { try b.keyPlotPage(Self.query(r)) } }
        router.get("/snapshots/:id/restore") { r, c in
            let (session, isNew) = Self.session(r)
            var response = await Self.page { try b.restoreConfirmation(c.parameters.require("id"), session: session) }
            if isNew { response.setCookie(Cookie(name: SessionGuard.cookieName, value: session, path: "/", httpOnly: true, sameSite: .strict)) }
            return response
        }
        router.post("/snapshots/:id/restore") { r, c in
            var request = r
            let form = Self.form(String(buffer: try await request.collectBody(upTo: 16 * 1024)))
            return await Self.page { try b.restore(c.parameters.require("id"), form: form, session: r.cookies[SessionGuard.cookieName]?.value) }
        }
        router.get("/api/snapshots") { _, _ in await Self.api { try b.apiSnapshots() } }
        router.get("/api/snapshots/:id") { _, c in await Self.api { try b.apiSnapshot(c.parameters.require("id")) } }
        router.get("/api/diff") { r, _ in await Self.api { try b.apiDiff(Self.query(r)) } }
        router.get("/api/log") { r, _ in await Self.api { try b.apiLog(Self.query(r)) } }

        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "bpftimetool"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) },
            logger: BPFLog.logger("serve"))
        try await app.runService()
    }

    private static let log = BPFLog.logger("serve")

    /// An HTML page, or an error page with the status the error calls for.
    private static func page(_ body: @escaping @Sendable () throws -> Reply) async -> Response {
        await respond(body) { status, message in
            .html(HTML.page(title: "\(status)", "<p class=\"error\">\(HTML.escape(message))</p>"), status: status)
        }
    }

    /// A JSON document, or `{"error": ...}` with the status the error calls for.
    private static func api(_ body: @escaping @Sendable () throws -> Reply) async -> Response {
        await respond(body) { status, message in .json("{\"error\": \(JSONText.quote(message))}", status: status) }
    }

    /// Runs `body` on a dispatch thread: a history call blocks its thread until the database
    /// answers (a PostgreSQL history's through tasks of its own), which must not hold up Swift's
    /// few cooperative threads.
    private static func respond(_ body: @escaping @Sendable () throws -> Reply,
                                failure: @escaping @Sendable (Int, String) -> Reply) async -> Response {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: response(body, failure: failure)) }
        }
    }

    private static func response(_ body: () throws -> Reply, failure: (Int, String) -> Reply) -> Response {
        let reply: Reply
        do {
            reply = try body()
        } catch {
            let (status, message) = BrowseError.classify(error)
            if status >= 500 { log.error("\(message)") }
            reply = failure(status, message)
        }
        // Nothing is loaded from elsewhere, no script runs, and no other site may frame the restore button.
        let headers: HTTPFields = [
            .contentType: reply.contentType,
            .init("Content-Security-Policy")!: "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ]
        return Response(status: .init(code: reply.status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: reply.body)))
    }

    private static func query(_ request: Request) -> Parameters {
        Parameters(Dictionary(request.uri.queryParameters.map { (String($0.key), String($0.value)) }) { first, _ in first })
    }

    /// An `application/x-www-form-urlencoded` body.
    private static func form(_ body: String) -> Parameters {
        var values: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            if let name = parts.first, values[name] == nil { values[name] = parts.count > 1 ? parts[1] : "" }
        }
        return Parameters(values)
    }

    /// The browser's session id, or a new one to set.
    private static func session(_ request: Request) -> (id: String, isNew: Bool) {
        if let id = request.cookies[SessionGuard.cookieName]?.value, !id.isEmpty { return (id, false) }
        return (SessionGuard.newSession(), true)
    }
}

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A `bpftimetool snap serve` process on a free loopback port (`--listen 127.0.0.1:0`), and
/// plain HTTP requests to it. Cookies are sent only when a test passes one.
///
/// Sendable, so that a test can send requests from several threads at once: every field is a
/// constant, and requests go through `URLSession`, which is thread-safe.
final class ServeProcess: @unchecked Sendable {
    struct Answer {
        var status: Int
        var body: String
        var headers: [String: String]
    }

    let process = Process()
    let base: URL
    /// What the server printed first: "serving DB at http://127.0.0.1:PORT/".
    let firstLine: String
    private let session: URLSession

    init(tool: ToolRunner, arguments: [String]) throws {
        process.executableURL = ToolRunner.executable
        process.arguments = ["snap", "serve", "--listen", "127.0.0.1:0"] + arguments
        process.environment = tool.environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The first line names the address: "serving DB at http://127.0.0.1:PORT/".
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { throw ServeError("snap serve exited before listening (status \(process.terminationStatus))") }
            line += chunk
        }
        let text = String(decoding: line, as: UTF8.self)
        firstLine = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let start = text.range(of: " at http://"), let url = URL(string: String(text[text.index(start.lowerBound, offsetBy: 4)...])
            .trimmingCharacters(in: .whitespacesAndNewlines)) else { throw ServeError("unexpected first line: \(text)") }
        base = url
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpShouldSetCookies = false
        configuration.timeoutIntervalForRequest = 60
        session = URLSession(configuration: configuration)
    }

    /// Stops the server as Ctrl-C would; answers its exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning { process.interrupt() }
        process.waitUntilExit()
        return process.terminationStatus
    }

    func get(_ path: String, cookie: String? = nil) throws -> Answer {
        try send(request(path, cookie: cookie))
    }

    func post(_ path: String, form: String, cookie: String? = nil) throws -> Answer {
        var r = request(path, cookie: cookie)
        r.httpMethod = "POST"
        r.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        r.httpBody = Data(form.utf8)
        return try send(r)
    }

    func url(_ path: String) -> URL { URL(string: path, relativeTo: base)!.absoluteURL }

    private func request(_ path: String, cookie: String?) -> URLRequest {
        var r = URLRequest(url: url(path))
        if let cookie { r.setValue(cookie, forHTTPHeaderField: "Cookie") }
        return r
    }

    private func send(_ request: URLRequest) throws -> Answer {
        let box = AnswerBox()
        session.dataTask(with: request) { data, response, error in
            if let error {
                box.result = .failure(error)
            } else if let http = response as? HTTPURLResponse {
                var headers: [String: String] = [:]
                for (k, v) in http.allHeaderFields { headers[String(describing: k).lowercased()] = String(describing: v) }
                box.result = .success(Answer(status: http.statusCode, body: String(decoding: data ?? Data(), as: UTF8.self), headers: headers))
            }
            box.done.signal()
        }.resume()
        box.done.wait()
        return try box.result.get()
    }
}

/// One request's outcome, handed from URLSession's queue to the waiting test (`done` orders
/// the write of `result` before its read).
private final class AnswerBox: @unchecked Sendable {
    let done = DispatchSemaphore(value: 0)
    var result: Result<ServeProcess.Answer, any Error> = .failure(ServeError("no answer"))
}

struct ServeError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

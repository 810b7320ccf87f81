import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A real HTTP/1.1 server on 127.0.0.1 (an ephemeral port) for adapter tests: it records every request
/// exactly as it arrived and answers what the test's handler says. Use it through ``withTestHTTPServer``,
/// which always stops it.
final class TestHTTPServer: Sendable {
    struct Request: Sendable {
        var method: String
        var uri: String
        var headers: [(String, String)]
        var body: [UInt8]

        var path: String { String(uri.prefix { $0 != "?" }) }
        var bodyText: String { String(decoding: body, as: UTF8.self) }

        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }

        /// The query parameters, percent-decoded.
        var query: [String: String] {
            guard let q = uri.firstIndex(of: "?") else { return [:] }
            var out: [String: String] = [:]
            for pair in uri[uri.index(after: q)...].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
                let decode = { (s: String) in s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? s }
                out[decode(kv[0])] = kv.count > 1 ? decode(kv[1]) : ""
            }
            return out
        }

        /// The body as a form (`a=1&b=2`), percent-decoded.
        var form: [String: String] {
            var out: [String: String] = [:]
            for pair in bodyText.split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
                let decode = { (s: String) in s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? s }
                out[decode(kv[0])] = kv.count > 1 ? decode(kv[1]) : ""
            }
            return out
        }

        /// The body parsed as a JSON object.
        var json: [String: Any]? {
            try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        }
    }

    struct Response: Sendable {
        var status: Int
        var headers: [(String, String)] = []
        var body: String = ""
        /// Never answer (until the server stops): for timeouts and cancellation.
        var hang = false
        /// Send the head and the first half of the body, then nothing more (a body that never ends).
        var stallInBody = false

        static func ok(_ body: String = "", status: Int = 200) -> Response { Response(status: status, body: body) }
        static let hanging = Response(status: 0, hang: true)
        static let stallingInBody = Response(status: 200, body: String(repeating: "x", count: 64), stallInBody: true)
    }

    typealias Handler = @Sendable (Request) async -> Response

    let port: Int
    private let recorded = Mutex<[Request]>([])
    private let handler: Mutex<Handler>

    fileprivate init(port: Int, handler: @escaping Handler) {
        self.port = port
        self.handler = Mutex(handler)
    }

    var url: String { "http://127.0.0.1:\(port)" }
    var requests: [Request] { recorded.withLock { $0 } }

    /// Replaces the handler (to change behaviour mid-test).
    func respond(with handler: @escaping Handler) { self.handler.withLock { $0 = handler } }

    /// Waits (generously: loaded CI machines) until at least `count` requests have arrived.
    func waitForRequests(_ count: Int, timeout: Duration = .seconds(120)) async throws -> [Request] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let now = requests
            if now.count >= count { return now }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestFailure("expected \(count) requests, got \(requests.count)")
    }

    fileprivate func handle(_ request: Request) async -> Response {
        recorded.withLock { $0.append(request) }
        let handler = self.handler.withLock { $0 }
        return await handler(request)
    }

    fileprivate static func serve(
        _ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, server: TestHTTPServer
    ) async {
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let h):
                    head = h
                    body = []
                case .body(let buffer):
                    body.append(contentsOf: buffer.readableBytesView)
                case .end:
                    guard let h = head else { continue }
                    let request = Request(method: h.method.rawValue, uri: h.uri, headers: h.headers.map { ($0.name, $0.value) }, body: body)
                    let response = await server.handle(request)
                    if response.hang {
                        try? await Task.sleep(for: .seconds(3600))
                        return
                    }
                    var headers = HTTPHeaders(response.headers)
                    headers.replaceOrAdd(name: "Content-Length", value: String(response.body.utf8.count))
                    let status = HTTPResponseStatus(statusCode: response.status)
                    try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)))
                    if response.stallInBody {
                        try await outbound.write(.body(.byteBuffer(ByteBuffer(string: String(response.body.prefix(response.body.count / 2))))))
                        try? await Task.sleep(for: .seconds(3600))
                        return
                    }
                    try await outbound.write(.body(.byteBuffer(ByteBuffer(string: response.body))))
                    try await outbound.write(.end(nil))
                    head = nil
                }
            }
        }
    }
}

/// Runs `body` with a started ``TestHTTPServer`` and stops the server afterwards, whatever happens.
func withTestHTTPServer<T: Sendable>(
    _ handler: @escaping TestHTTPServer.Handler = { _ in .ok() },
    _ body: (TestHTTPServer) async throws -> T
) async throws -> T {
    let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .serverChannelOption(.backlog, value: 256)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .bind(host: "127.0.0.1", port: 0) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
            }
        }
    let server = TestHTTPServer(port: listener.channel.localAddress!.port!, handler: handler)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            try await withThrowingDiscardingTaskGroup { connections in
                try await listener.executeThenClose { inbound in
                    for try await connection in inbound {
                        connections.addTask { await TestHTTPServer.serve(connection, server: server) }
                    }
                }
            }
        }
        do {
            let result = try await body(server)
            group.cancelAll()
            // Closed before returning: a test may rely on the port refusing connections now.
            try? await listener.channel.close()
            return result
        } catch {
            group.cancelAll()
            try? await listener.channel.close()
            throw error
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

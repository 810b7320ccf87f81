import CoreMetrics
import Hummingbird
import HummingbirdCore
import JourneyEvents
import Logging
import NIOCore
import Synchronization

/// The Tracking API's eight paths answered without a router: one dictionary lookup of the path, no
/// trie, no middleware chain. `404` for another path, `405` (with `Allow: POST`) for another method.
struct TrackingResponder: HTTPResponder {
    typealias Context = BasicRequestContext

    /// One path's endpoint and the counters of the statuses it answered (each made once, not a factory
    /// call per request).
    final class Route: Sendable {
        let name: String
        let endpoint: TrackingBody.Endpoint
        private let counters = Mutex<[Int: Counter]>([:])

        init(name: String, endpoint: TrackingBody.Endpoint) {
            self.name = name
            self.endpoint = endpoint
        }

        func count(_ status: Int) {
            counters.withLock { made in
                if let counter = made[status] { return counter }
                let counter = Counter(label: "journeyd_http_requests_total", dimensions: [("endpoint", name), ("status", String(status))])
                made[status] = counter
                return counter
            }.increment()
        }
    }

    let server: IngestServer
    let routes: [String: Route]

    init(server: IngestServer) {
        self.server = server
        var routes: [String: Route] = [:]
        for name in ["track", "identify", "page", "screen", "group", "alias", "batch", "import"] {
            routes["/v1/\(name)"] = Route(name: name, endpoint: TrackingBody.Endpoint(name: name)!)
        }
        self.routes = routes
    }

    func respond(to request: Request, context: Context) async throws -> Response {
        guard let route = routes[request.uri.path] else { return Response(status: .notFound) }
        guard request.method == .post else { return Response(status: .methodNotAllowed, headers: [.allow: "POST"]) }
        let response = await server.respond(to: request, endpoint: route.endpoint)
        route.count(response.status.code)
        return response
    }
}

/// An HTTP child channel whose connections read a whole Tracking API request in one go: a receive
/// buffer that starts at 64 KiB (NIO's starts at 2 KiB and grows read by read) and may reach the
/// request limit, so a batch of 100 events (≈ 20 KB) is one socket read and one body part, not several.
struct WholeRequestChannel<Child: ServerChildChannel>: ServerChildChannel {
    typealias Value = Child.Value
    let child: Child
    let maxRequestBytes: Int

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let allocator = AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 64 * 1024, maximum: max(64 * 1024, maxRequestBytes + 16 * 1024))
        return channel.setOption(ChannelOptions.recvAllocator, value: allocator).flatMap {
            child.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await child.handle(value: value, logger: logger)
    }
}

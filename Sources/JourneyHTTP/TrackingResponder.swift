import CoreMetrics
import Hummingbird
import HummingbirdCore
import JourneyEvents
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

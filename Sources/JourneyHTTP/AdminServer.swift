import Hummingbird
import HummingbirdCore
public import JourneyCore
public import Logging
import NIOCore
public import ServiceLifecycle

/// The admin listener (`admin.listen`, separate from ingest): `GET /metrics` in the Prometheus text
/// format, `GET /healthz` (the process answers) and `GET /readyz` (recovered, inputs bound, the
/// processor turning: 200, else 503). Serves an address it binds, or a listening socket the service
/// manager passed (`journeyd-admin.socket`, `FileDescriptorName=admin`).
public struct AdminServer: Service {
    let host: String
    let port: Int
    /// A listening socket systemd bound (socket activation); nil: bind `host:port`.
    let activatedSocket: Int32?
    /// The exposition text of the metrics registry.
    let metrics: @Sendable () -> [UInt8]
    /// Whether the daemon is ready, and why not when it is not.
    let readiness: @Sendable () -> (ready: Bool, detail: String)
    let logger: Logger
    let listening: @Sendable (_ host: String, _ port: Int) -> Void
    /// Told when the listener cannot accept connections, and when it can again.
    let report: @Sendable (InputNotice) -> Void

    /// Connections the admin listener holds at most: a scraper or two and an operator's curl. Its own
    /// budget, not the producers' (an ingest flood must not keep `/metrics` and `/healthz` from
    /// answering), taken from the daemon's reserve of descriptors.
    public static let maxConnections = 16

    public init(
        host: String, port: Int, activatedSocket: Int32? = nil, metrics: @escaping @Sendable () -> [UInt8],
        readiness: @escaping @Sendable () -> (ready: Bool, detail: String), logger: Logger,
        report: @escaping @Sendable (InputNotice) -> Void = { _ in }, listening: @escaping @Sendable (String, Int) -> Void = { _, _ in }
    ) {
        self.report = report
        self.host = host
        self.port = port
        self.activatedSocket = activatedSocket
        self.metrics = metrics
        self.readiness = readiness
        self.logger = logger
        self.listening = listening
    }

    public func run() async throws {
        let router = Router()
        router.get("/metrics") { [metrics] _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics())))
        }
        router.get("/healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        router.get("/readyz") { [readiness] _, _ in
            let (ready, detail) = readiness()
            return Response(
                status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain"],
                body: .init(byteBuffer: ByteBuffer(string: detail + "\n")))
        }
        let connections = ConnectionGuard(what: "admin", budget: ConnectionBudget(capacity: Self.maxConnections), report: report)
        // Idle connections (a scraper's between scrapes) are closed after a minute, as the ingest
        // listener's by default.
        let http1 = HTTP1Channel.Configuration(idleTimeout: .seconds(60))
        if let activatedSocket {
            let http = HTTP1Channel(responder: ActivatedServer<HTTP1Channel>.responder(router.buildResponder(), logger: logger), configuration: http1)
            try await ActivatedServer(descriptor: activatedSocket, child: http, connections: connections, logger: logger).run(listening: listening)
            return
        }
        let app = Application(
            router: router, server: .http1(configuration: http1),
            configuration: .init(address: .hostname(host, port: port), serverName: "journeyd", availableConnectionsDelegate: connections.delegate),
            onServerRunning: { [listening, host, port] channel in
                await connections.guarding(channel)
                listening(host, channel.localAddress?.port ?? port)
            },
            logger: logger)
        try await ListenFailure.reporting { try await app.run() }
    }
}

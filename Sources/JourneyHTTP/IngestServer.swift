import CompressNIO
import CoreMetrics
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
public import JourneyCore
public import JourneyEvents
public import Logging
import NIOCore
public import ServiceLifecycle
import Synchronization

/// The Segment HTTP Tracking API (`POST /v1/track`, `identify`, `page`, `screen`, `group`, `alias`,
/// `batch`, `import`) on Hummingbird, feeding an ``HTTPSource``. Real clients work unchanged: the write
/// key as the HTTP Basic user name (or `writeKey` in the body), gzip bodies, Segment's limits.
///
/// Answers:
/// - `200 {"success":true}` once every event is durable; when some events were quarantined,
///   `200 {"success":true,"accepted":N,"quarantined":[{"index":i,"path":…,"reason":…}]}`
///   (400 with `"success":false` when none was accepted);
/// - `400 {"success":false,"index":i,"reason":…}` for a body refused as a whole: not gzip, not JSON,
///   over 500 KB, an event over 32 KB or not an object (`index` names it; absent for the body as a whole);
/// - `401` for a missing or unknown key (without saying which keys exist);
/// - `429` with `Retry-After` when the queue is full, `503` with `Retry-After` when the daemon could not
///   store the events (stopping, disk failure): the client sends the request again.
public struct IngestServer: Service {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// Segment's limits: 32 KB per event, 500 KB per request (after gzip).
        public var maxEventBytes = 32 * 1024
        public var maxRequestBytes = 500 * 1024
        /// Seconds a client is told to wait when the queue is full.
        public var retryAfterSeconds = 1
        /// PEM certificate chain and key: serve HTTPS.
        public var tls: TLSFiles?
        /// A listening socket the service manager bound (socket activation): served instead of binding
        /// `host:port`.
        public var activatedSocket: Int32?
        /// The connections the daemon's listeners hold together (shared with the event socket); one of
        /// the input's own from the open files limit when nil.
        public var connectionBudget: ConnectionBudget?
        /// A connection with no request in progress and nothing read for this long is closed.
        public var idleTimeout: Duration = .seconds(60)
        /// Told when the input cannot accept connections (its budget spent, out of descriptors), and when
        /// it can again.
        public var report: @Sendable (InputNotice) -> Void = { _ in }

        public init(host: String = "127.0.0.1", port: Int = 8088) {
            self.host = host
            self.port = port
        }
    }

    let source: HTTPSource
    let keys: WriteKeys
    let configuration: Configuration
    /// Reads each event straight from the request body in the handler (many at once, off the pump's
    /// serial path); an event it rejects goes in unparsed, and the pump rejects and quarantines it as it
    /// does any line.
    let parser: SegmentEventParser
    let logger: Logger
    /// Called with the address once listening (the port, when 0 was asked for).
    let listening: @Sendable (_ host: String, _ port: Int) -> Void

    public init(
        source: HTTPSource, keys: WriteKeys, configuration: Configuration, parser: SegmentEventParser = SegmentEventParser(),
        logger: Logger, listening: @escaping @Sendable (String, Int) -> Void = { _, _ in }
    ) {
        self.source = source
        self.keys = keys
        self.configuration = configuration
        self.parser = parser
        self.logger = logger
        self.listening = listening
    }

    public func run() async throws {
        let responder = TrackingResponder(server: self)
        let idle = configuration.idleTimeout.components
        let http1 = HTTP1Channel.Configuration(idleTimeout: .nanoseconds(idle.seconds * 1_000_000_000 + idle.attoseconds / 1_000_000_000))
        let connections = ConnectionGuard(what: "http", budget: configuration.connectionBudget ?? ConnectionBudget(), report: configuration.report)
        if let descriptor = configuration.activatedSocket {
            let http = HTTP1Channel(responder: ActivatedServer<HTTP1Channel>.responder(responder, logger: logger), configuration: http1)
            if let tls = configuration.tls {
                let child = try TLSChannel(http, tlsConfiguration: tls.serverConfiguration())
                try await ActivatedServer(descriptor: descriptor, child: child, connections: connections, logger: logger).run(listening: listening)
            } else {
                try await ActivatedServer(descriptor: descriptor, child: http, connections: connections, logger: logger).run(listening: listening)
            }
            return
        }
        let server: HTTPServerBuilder =
            try configuration.tls.map { try .tls(.http1(configuration: http1), tlsConfiguration: $0.serverConfiguration()) } ?? .http1(configuration: http1)
        let app = Application(
            responder: responder, server: server,
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: "journeyd",
                availableConnectionsDelegate: connections.delegate),
            onServerRunning: { [listening, configuration] channel in
                await connections.guarding(channel)
                listening(configuration.host, channel.localAddress?.port ?? configuration.port)
            },
            logger: logger)
        try await ListenFailure.reporting { try await app.run() }
    }

    /// Everything but the HTTP plumbing: authenticate, read, cut into events, submit, answer.
    func respond(to request: Request, endpoint: TrackingBody.Endpoint) async -> Response {
        // The key in the header: the usual form looked up as it is, another decoded; a header key
        // that is not ours is refused even when the body carries one.
        var headerStream: String?
        if let header = request.headers[.authorization] {
            headerStream = keys.stream(forAuthorization: header)
            if headerStream == nil, let user = Self.basicUser(header) {
                guard let stream = keys.stream(for: user) else { return .unauthorized }
                headerStream = stream
            }
        }
        let bytes: [UInt8]
        switch await readBody(request) {
        case .success(let read): bytes = read
        case .failure(let problem): return .badRequest(problem)
        }
        let body: TrackingBody
        do {
            body = try TrackingBody(
                bytes, endpoint: endpoint, maxEventBytes: configuration.maxEventBytes, receivedAt: WallClock().now, parser: parser)
        } catch {
            return .badRequest(error)
        }
        guard let stream = headerStream ?? body.writeKey.flatMap(keys.stream(for:)) else { return .unauthorized }
        let answer = await source.submit(body.events, stream: stream)
        return .answer(answer, retryAfter: configuration.retryAfterSeconds)
    }

    /// The body, un-gzipped, within the request limit.
    private func readBody(_ request: Request) async -> Result<[UInt8], TrackingBody.Problem> {
        let limit = configuration.maxRequestBytes
        let tooLarge = TrackingBody.Problem(index: nil, reason: "request exceeds \(limit) bytes")
        // A body read in one part (the usual case) is taken as it is; one in
        // several parts is gathered in a buffer sized once from Content-Length (within the limit).
        var buffer = ByteBuffer()
        var parts = 0
        do {
            for try await chunk in request.body {
                guard buffer.readableBytes + chunk.readableBytes <= limit else { return .failure(tooLarge) }
                parts += 1
                if parts == 1 {
                    buffer = chunk
                    continue
                }
                if parts == 2 {
                    let announced = request.headers[.contentLength].flatMap { Int($0) } ?? 0
                    var gathered = ByteBufferAllocator().buffer(capacity: min(max(announced, buffer.readableBytes + chunk.readableBytes), limit))
                    gathered.writeBuffer(&buffer)
                    buffer = gathered
                }
                var chunk = chunk
                buffer.writeBuffer(&chunk)
            }
        } catch {
            return .failure(TrackingBody.Problem(index: nil, reason: "the body could not be read: \(error)"))
        }
        let encoding = request.headers[.contentEncoding]?.lowercased() ?? "identity"
        switch encoding {
        case "identity": break
        case "gzip", "x-gzip":
            do {
                buffer = try buffer.decompress(with: .gzip(), maxSize: limit + 1)
            } catch let error as CompressNIOError where error == .bufferOverflow {
                return .failure(tooLarge)
            } catch {
                return .failure(TrackingBody.Problem(index: nil, reason: "the body is not valid gzip (\(error))"))
            }
            guard buffer.readableBytes <= limit else { return .failure(tooLarge) }
        default:
            return .failure(TrackingBody.Problem(index: nil, reason: "unsupported Content-Encoding \(encoding) (gzip or none)"))
        }
        return .success(buffer.readBytes(length: buffer.readableBytes) ?? [])
    }

    /// The user name of `Basic base64(user:password)`: Segment's clients put the write key there.
    static func basicUser(_ header: String) -> String? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
            let decoded = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces))
        else { return nil }
        let text = String(decoding: decoded, as: UTF8.self)
        let user = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? text
        return user.isEmpty ? nil : user
    }
}

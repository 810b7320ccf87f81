import AsyncHTTPClient
import Foundation
import JourneyCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// What came back from one HTTP exchange: enough to classify it, never the whole body.
struct HTTPResponseSummary: Sendable {
    var status: Int
    var headers: HTTPHeaders
    /// The start of the body (at most ``HTTPTransport/bodyLimit`` bytes), as UTF-8 text.
    var body: String
    var retryAfter: TimeSpan?
    /// The HTTP version the exchange used (HTTP/2 where the server chose it through ALPN).
    var version: HTTPVersion = .http1_1

    /// The generic reading of this response (``AttemptOutcome/classification``), with a short excerpt of
    /// the body as detail.
    var outcome: AttemptOutcome { .status(status, retryAfter: retryAfter, detail: excerpt) }

    /// The first line of the body, trimmed, at most 200 characters, control characters removed.
    var excerpt: String {
        let firstLine = body.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let cleaned = String(firstLine.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7f }.map(Character.init))
            .trimmingCharacters(in: .whitespaces)
        return cleaned.count > 200 ? String(cleaned.prefix(200)) + "…" : cleaned
    }

    /// The body as a JSON object's member, when it is one (chat robots answer `{"errcode":0,…}`).
    func jsonMember(_ key: String) -> Any? {
        guard let data = body.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return object[key]
    }
}

enum HTTPExchange: Sendable {
    case response(HTTPResponseSummary)
    case failed(AttemptOutcome)
}

/// The HTTP client every HTTP adapter sends through: redirects never followed, bodies capped, timeouts,
/// and the ``AddressPolicy`` applied both before sending and on each new connection.
///
/// Two shared transports exist (``guarded`` and ``unguarded``, for channels with `allow_private: true`);
/// like `HTTPClient.shared` they live as long as the process and are never shut down. They speak HTTP/1.1.
/// A channel whose provider speaks only HTTP/2 (APNs) opens a transport of its own with `http2: true`
/// (and, for a private CA, `caFile`), and shuts it down when the channel is retired.
final class HTTPTransport: Sendable {
    static let guarded = HTTPTransport(allowPrivate: false)
    static let unguarded = HTTPTransport(allowPrivate: true)

    /// Response bytes kept for classification; the rest is not read.
    static let bodyLimit = 64 * 1024

    let allowPrivate: Bool
    private let client: HTTPClient
    private let resolve: @Sendable (String, Int) async throws -> [SocketAddress]

    /// - Parameter resolve: how host names are resolved for the pre-send check (tests replace it to
    ///   simulate a DNS answer that changes between the check and the connection).
    /// - Parameters:
    ///   - http2: offer HTTP/2 through ALPN on TLS connections (and use it when the server picks it);
    ///     otherwise HTTP/1.1 only.
    ///   - caFile: trust only the CA certificates in this PEM file instead of the system's (a private CA);
    ///     the server's certificate and name are verified either way.
    ///   - resolve: how host names are resolved for the pre-send check (tests replace it to
    ///     simulate a DNS answer that changes between the check and the connection).
    init(
        allowPrivate: Bool, http2: Bool = false, caFile: String? = nil,
        resolve: @escaping @Sendable (String, Int) async throws -> [SocketAddress] = { try await AddressPolicy.resolve(host: $0, port: $1) }
    ) {
        self.allowPrivate = allowPrivate
        self.resolve = resolve
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        // The channel's `timeout` is the whole exchange's deadline (``send(_:timeout:redacting:)``), connecting
        // included; the client's own timeouts must not cut it shorter. They were 10 s to connect and 60 s
        // between reads: a channel given `timeout: 2m` still failed at 60 s, and on a machine starved for
        // seconds the 10 s connect timeout fired before the event loop saw the connection complete.
        let longest = TimeAmount.milliseconds(HTTPChannelOptions.longestTimeout.milliseconds)
        configuration.timeout = .init(connect: longest, read: longest)
        configuration.httpVersion = http2 ? .automatic : .http1Only
        configuration.decompression = .disabled
        if let caFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(caFile)
            configuration.tlsConfiguration = tls
        }
        // Without this the pool retries a refused connection until the deadline: we want the error now.
        configuration.connectionPool.retryConnectionEstablishment = false
        if !allowPrivate {
            let check: @Sendable (any Channel) -> EventLoopFuture<Void> = { channel in
                if let remote = channel.remoteAddress, let reason = AddressPolicy.refusal(for: remote) {
                    channel.close(promise: nil)
                    return channel.eventLoop.makeFailedFuture(AddressPolicy.RefusedAddress(reason: reason))
                }
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            configuration.http1_1ConnectionDebugInitializer = check
            configuration.http2ConnectionDebugInitializer = check
        }
        client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
    }

    /// For transports made in tests; the shared ones are never shut down.
    func shutdown() async {
        try? await client.shutdown()
    }

    /// Sends `request` and reads the start of the response, within `timeout` (the connection, the
    /// response's head and body). Cancelling the calling task abandons the request. Never throws: every
    /// failure is an ``AttemptOutcome``.
    func send(_ request: HTTPClientRequest, timeout: TimeSpan, redacting secrets: [Secret] = []) async -> HTTPExchange {
        // The client's deadline ends the wait for a connection and for the response's head, not the reading
        // of its body (async-http-client cancels it once the head is in): the whole is raced against the
        // deadline here, so a body that trickles or stalls ends at `timeout` too. (The address check's
        // `getaddrinfo` cannot be cancelled: the system resolver's own timeout bounds it.)
        let deadline = ContinuousClock.now + .milliseconds(timeout.milliseconds)
        do {
            return try await withThrowingTaskGroup(of: HTTPExchange?.self) { group in
                group.addTask { try await self.exchange(request, timeout: timeout, redacting: secrets) }
                group.addTask {
                    try await Task.sleep(until: deadline)
                    return nil
                }
                defer { group.cancelAll() }
                return try await group.next()! ?? .failed(.timeout)
            }
        } catch {
            return .failed(Task.isCancelled ? .cancelled : Self.outcome(of: error))
        }
    }

    /// The address check (unless private addresses are allowed), one request and its response's body (up
    /// to ``bodyLimit``); bounded by ``send(_:timeout:redacting:)``.
    private func exchange(_ request: HTTPClientRequest, timeout: TimeSpan, redacting secrets: [Secret]) async throws -> HTTPExchange {
        if !allowPrivate {
            guard let url = URL(string: request.url), let host = url.host else {
                return .failed(.failure("invalid URL"))
            }
            let port = url.port ?? (url.scheme?.lowercased() == "https" ? 443 : 80)
            let addresses: [SocketAddress]
            do {
                addresses = try await resolve(host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port)
            } catch {
                return .failed(Task.isCancelled ? .cancelled : .dnsFailure("\(error)"))
            }
            for address in addresses {
                if let reason = AddressPolicy.refusal(for: address) { return .failed(.refusedDestination(reason)) }
            }
        }
        let response = try await client.execute(request, deadline: .now() + .milliseconds(timeout.milliseconds), logger: Self.silent)
        var body: [UInt8] = []
        for try await chunk in response.body {
            let room = Self.bodyLimit - body.count
            body.append(contentsOf: chunk.readableBytesView.prefix(room))
            if body.count >= Self.bodyLimit { break }
        }
        return .response(
            HTTPResponseSummary(
                status: Int(response.status.code), headers: response.headers,
                body: Secret.redact(String(decoding: body, as: UTF8.self), secrets),
                retryAfter: response.headers.first(name: "retry-after").flatMap { Self.retryAfter($0, now: Date()) },
                version: response.version))
    }

    /// POSTs `body` to `url` with `headers` (plus `User-Agent`). `secrets` are cut out of the response
    /// body before anything reads it (receivers echo URLs and headers in their errors).
    func post(
        _ url: String, headers: [(String, String)], body: [UInt8], timeout: TimeSpan, redacting secrets: [Secret] = []
    ) async -> HTTPExchange {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "User-Agent", value: "journeyd")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        return await send(request, timeout: timeout, redacting: secrets)
    }

    /// GETs `url` with `headers` (plus `User-Agent`); `secrets` as in ``post(_:headers:body:timeout:redacting:)``.
    func get(_ url: String, headers: [(String, String)] = [], timeout: TimeSpan, redacting secrets: [Secret] = []) async -> HTTPExchange {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(name: "User-Agent", value: "journeyd")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        return await send(request, timeout: timeout, redacting: secrets)
    }

    /// AsyncHTTPClient logs request URLs at debug level; URLs of robots carry their keys. It gets no logger.
    private static let silent = Logger(label: "journeyd.http", factory: { _ in SwiftLogNoOpLogHandler() })

    /// `Retry-After`: delta-seconds or an HTTP-date (IMF-fixdate), as a span from `now`.
    static func retryAfter(_ text: String, now: Date) -> TimeSpan? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let seconds = Int64(trimmed), seconds >= 0 { return .seconds(min(seconds, 86_400 * 30)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        guard let date = formatter.date(from: trimmed) else { return nil }
        let ms = Int64((date.timeIntervalSince(now) * 1000).rounded())
        return .milliseconds(max(0, ms))
    }

    /// The table from client and network errors to outcomes.
    static func outcome(of error: any Error) -> AttemptOutcome {
        switch error {
        case is CancellationError:
            return .cancelled
        case let refused as AddressPolicy.RefusedAddress:
            return .refusedDestination(refused.reason)
        case let error as HTTPClientError:
            switch error {
            case .connectTimeout, .readTimeout, .writeTimeout, .deadlineExceeded, .tlsHandshakeTimeout:
                return .timeout
            case .remoteConnectionClosed:
                return .connectionReset("the server closed the connection")
            case .cancelled:
                return .cancelled
            default:
                return .failure("HTTP client: \(error)")
            }
        case let error as NIOConnectionError:
            if let first = error.connectionErrors.first {
                return outcome(of: first.error)
            }
            let dns = [error.dnsAError, error.dnsAAAAError].compactMap { $0 }.map { "\($0)" }
            return .dnsFailure(dns.first ?? "cannot resolve \(error.host)")
        case let error as IOError:
            switch error.errnoCode {
            case ECONNREFUSED: return .connectionRefused("")
            case ECONNRESET, EPIPE, ECONNABORTED: return .connectionReset("")
            case ETIMEDOUT: return .timeout
            case ENETUNREACH, EHOSTUNREACH: return .connectionRefused("unreachable")
            default: return .failure("\(error)")
            }
        case let error as ChannelError:
            switch error {
            case .connectTimeout: return .timeout
            case .eof, .ioOnClosedChannel, .alreadyClosed, .outputClosed, .inputClosed: return .connectionReset("\(error)")
            default: return .failure("\(error)")
            }
        case is SocketAddressError:
            return .dnsFailure("\(error)")
        case is NIOSSLError, is BoringSSLError, is NIOSSLExtraError:
            return .tlsFailure("\(error)")
        default:
            return .failure("\(error)")
        }
    }
}

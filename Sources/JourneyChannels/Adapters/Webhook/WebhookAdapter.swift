import Foundation
import JourneyCore

/// POSTs each touch as JSON (``OutboundMessage/jsonValue``) to a URL, signed the Standard Webhooks way:
/// `webhook-id` (the touch id, the same on every retry), `webhook-timestamp` (Unix seconds of this
/// attempt) and `webhook-signature: v1,<base64 HMAC-SHA256>` — or GitHub's `X-Hub-Signature-256` or
/// Stripe's `Stripe-Signature`. `Idempotency-Key` carries the touch id too.
///
/// Redirects are not followed (a 3xx is an outcome), destinations on private or loopback addresses are
/// refused unless the channel allows them, and the response is read up to 64 KiB. Status codes are read
/// with the generic table (``AttemptOutcome/classification``): 410 disables the endpoint.
public struct WebhookAdapter: ConfigurableChannelAdapter {
    public static let type = "webhook"
    public static let defaultPolicy = ChannelPolicy(concurrency: 16)

    public let name: String
    public var acceptsIdempotencyKeys: Bool { configuration.receiverDeduplicates }
    private let configuration: Configuration
    private let transport: HTTPTransport
    private let clock: @Sendable () -> Date

    public init(name: String, configuration: Configuration, context: ChannelContext) {
        self.init(name: name, configuration: configuration, context: context, clock: { Date() })
    }

    init(name: String, configuration: Configuration, context: ChannelContext, clock: @escaping @Sendable () -> Date) {
        self.name = name
        self.configuration = configuration
        self.transport = context.transport(allowPrivate: configuration.http.allowPrivate)
        self.clock = clock
    }

    public func deliver(_ message: OutboundMessage) async -> DeliveryResult {
        let body = message.jsonBytes
        let exchange = await transport.post(
            configuration.url.absoluteString, headers: headers(for: message.touch.id, body: body), body: body,
            timeout: configuration.http.timeout, redacting: configuration.secrets)
        switch exchange {
        case .failed(let outcome):
            return outcome.classification.redacting(configuration.secrets)
        case .response(let response):
            return response.outcome.classification.redacting(configuration.secrets)
        }
    }

    /// The request headers for one attempt.
    func headers(for id: String, body: [UInt8]) -> [(String, String)] {
        let timestamp = Int64(clock().timeIntervalSince1970)
        var headers: [(String, String)] = [
            ("Content-Type", "application/json"), ("Idempotency-Key", id), ("webhook-id", id),
            ("webhook-timestamp", String(timestamp)),
        ]
        if !configuration.secrets.isEmpty {
            switch configuration.scheme {
            case .standard:
                let signatures = configuration.secrets.compactMap {
                    Signatures.standardWebhooks(secret: $0.reveal, id: id, timestamp: timestamp, body: body)
                }
                headers.append(("webhook-signature", signatures.joined(separator: " ")))
            case .github:
                headers.append(("X-Hub-Signature-256", Signatures.github(secret: configuration.secrets[0].reveal, body: body)))
            case .stripe:
                let values = configuration.secrets.map { Signatures.stripe(secret: $0.reveal, timestamp: timestamp, body: body) }
                headers.append(("Stripe-Signature", values.joined(separator: ",").replacingOccurrences(of: ",t=\(timestamp)", with: "")))
            }
        }
        headers += configuration.headers
        return headers
    }
}

import JourneyCore

/// A configured destination that delivers rendered touches: a webhook, an SMTP relay, a chat robot…
///
/// An adapter makes **one attempt** per call and says what happened. It never sleeps, retries, rate-limits
/// or remembers failures: ``DeliveryPipeline`` owns retries, rate limits and the circuit breaker, so every
/// adapter gets the same, tested policy.
///
/// - Important: `deliver(_:)` returns promptly when its task is cancelled (the request is abandoned and
///   the result is ``DeliveryResult/retry(after:reason:)`` with a "cancelled" reason), and no
///   ``DeliveryResult`` reason, log line or `description` ever contains a secret.
public protocol ChannelAdapter: Sendable {
    /// The channel's name in `channels.yaml` (what a journey's `send:` refers to).
    var name: String { get }

    /// Whether the destination deduplicates by the touch id (``OutboundMessage/idempotencyKey``), so a
    /// touch whose outcome is unknown after a crash (`in_doubt`) can be sent again safely.
    var acceptsIdempotencyKeys: Bool { get }

    /// Makes one delivery attempt and classifies its outcome.
    func deliver(_ message: OutboundMessage) async -> DeliveryResult

    /// Whether ``deliver(batch:)`` costs less than one ``deliver(_:)`` per message — one write and one
    /// fsync for a file, one call for a provider's batch API. The pipeline then hands every touch of a
    /// channel batch that the policy lets go over in one call. False unless the adapter says so.
    var deliversBatches: Bool { get }

    /// Makes one delivery attempt for each message, in order, and classifies each outcome: one result per
    /// message, in the same order. The same contract as ``deliver(_:)`` otherwise (cancellation, secrets).
    /// By default, one ``deliver(_:)`` after another.
    func deliver(batch messages: [OutboundMessage]) async -> [DeliveryResult]

    /// Releases what the adapter holds (connections, files). Called once, when the channel set is retired.
    func shutdown() async
}

extension ChannelAdapter {
    public func shutdown() async {}

    public var deliversBatches: Bool { false }

    public func deliver(batch messages: [OutboundMessage]) async -> [DeliveryResult] {
        var results: [DeliveryResult] = []
        results.reserveCapacity(messages.count)
        for message in messages { results.append(await deliver(message)) }
        return results
    }
}

/// One touch, rendered and ready for a channel: the touch's identity and metadata, the recipient's
/// traits, and the rendered content. Plain values only, so that adapters depend on nothing but this.
public struct OutboundMessage: Sendable, Hashable {
    /// The touch: its stable id, user, journey, version, enrollment, step, channel, template, due time and
    /// whether it is transactional.
    public var touch: Touch
    /// The recipient's traits (the user profile). Each adapter reads its address from a configurable trait:
    /// `email` for email, `phone` for SMS.
    public var traits: Value
    /// The rendered subject (email subject, DingTalk markdown title); nil when the template has none.
    public var subject: String?
    /// The rendered plain-text body. Chat robots and SMS send this.
    public var text: String
    /// The rendered HTML body (email only), if the template has one.
    public var html: String?
    /// Extra headers for the message (email headers), in order. Names and values must not contain CR/LF;
    /// the email adapter refuses those that do.
    public var headers: [Header]
    /// The one-click unsubscribe URL (RFC 8058), if the touch is a marketing message with one.
    public var unsubscribeURL: String?
    /// Free-form data for webhook and exec payloads (for example the template's variables).
    public var data: Value

    public struct Header: Sendable, Hashable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public init(
        touch: Touch, traits: Value = .emptyObject, subject: String? = nil, text: String, html: String? = nil,
        headers: [Header] = [], unsubscribeURL: String? = nil, data: Value = .emptyObject
    ) {
        self.touch = touch
        self.traits = traits
        self.subject = subject
        self.text = text
        self.html = html
        self.headers = headers
        self.unsubscribeURL = unsubscribeURL
        self.data = data
    }

    /// The touch id: the key sent to providers that deduplicate (`Idempotency-Key`, `webhook-id`).
    public var idempotencyKey: String { touch.id }
}

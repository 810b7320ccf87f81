import JourneyCore

/// What one delivery attempt came to, as an adapter classifies it. The pipeline turns it into a
/// ``DeliveryDecision`` (retry when, hold, dead letter) with the channel's retry schedule.
public enum DeliveryResult: Sendable, Hashable, CustomStringConvertible {
    /// The destination accepted the touch; with the provider's id for it when it returned one.
    case sent(providerMessageID: String?)
    /// A transient failure: trying again later can help. `after` is the destination's `Retry-After`.
    case retry(after: TimeSpan?, reason: String)
    /// The destination refused because of its rate limit: the whole channel holds until then (`for`, or
    /// the pipeline's default when the destination did not say). Does not count as a failed attempt.
    case throttle(for: TimeSpan?, reason: String)
    /// The channel (its endpoint or its credentials) cannot work until an operator acts: an endpoint that
    /// is gone (410), a rejected credential (401/403), a destination refused by the address policy.
    case disable(reason: String)
    /// This touch can never be delivered as it is (a rejected payload or recipient): no retry.
    case deadLetter(reason: String)

    public var reason: String? {
        switch self {
        case .sent: return nil
        case .retry(_, let reason), .throttle(_, let reason), .disable(let reason), .deadLetter(let reason):
            return reason
        }
    }

    public var isSent: Bool { if case .sent = self { return true } else { return false } }

    public var description: String {
        switch self {
        case .sent(let id): return id.map { "sent (\($0))" } ?? "sent"
        case .retry(let after, let reason): return "retry\(after.map { " after \($0)" } ?? ""): \(reason)"
        case .throttle(let span, let reason): return "throttle\(span.map { " for \($0)" } ?? ""): \(reason)"
        case .disable(let reason): return "disable channel: \(reason)"
        case .deadLetter(let reason): return "dead letter: \(reason)"
        }
    }

    /// The same result with every occurrence of each secret in its reason replaced by `<redacted>`: a
    /// last line of defence for text that came from elsewhere (a response body, a library's error).
    func redacting(_ secrets: [Secret]) -> DeliveryResult {
        guard !secrets.isEmpty else { return self }
        func clean(_ s: String) -> String { Secret.redact(s, secrets) }
        switch self {
        case .sent(let id): return .sent(providerMessageID: id.map(clean))
        case .retry(let after, let reason): return .retry(after: after, reason: clean(reason))
        case .throttle(let span, let reason): return .throttle(for: span, reason: clean(reason))
        case .disable(let reason): return .disable(reason: clean(reason))
        case .deadLetter(let reason): return .deadLetter(reason: clean(reason))
        }
    }
}

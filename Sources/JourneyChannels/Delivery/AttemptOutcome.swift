import JourneyCore

/// What happened on the wire, before any channel-specific reading of it. ``classification`` is the one
/// table every adapter starts from; adapters refine it where their provider documents more (Slack's 404,
/// DingTalk's errcode 130101, …).
///
/// | outcome | result | why |
/// |---|---|---|
/// | 2xx | sent | |
/// | 301, 308 | disable | the endpoint moved for good; redirects are never followed (SSRF), an operator updates the URL |
/// | other 3xx | retry | a temporary redirect (maintenance page) is not followed but may go away |
/// | 400, 413, 422, other 4xx | dead letter | this payload is refused and will be refused again |
/// | 401, 403 | disable | the credential is wrong: every touch would fail the same way |
/// | 404 | dead letter | (Slack: disable) |
/// | 408, 425 | retry | the request timed out or came too early |
/// | 409 | retry | a conflicting request with the same idempotency key is still in progress |
/// | 410 | disable | the endpoint is gone (Standard Webhooks) |
/// | 429 | throttle | honour `Retry-After` |
/// | 5xx | retry | honour `Retry-After` |
/// | timeout, connection refused/reset, DNS failure, TLS failure | retry | the network or the peer may recover |
/// | refused destination (private address) | disable | a policy decision that holds until the configuration changes |
public enum AttemptOutcome: Sendable, Hashable, CustomStringConvertible {
    /// A response arrived with this status; `retryAfter` is its `Retry-After`, if any.
    case status(Int, retryAfter: TimeSpan? = nil, detail: String = "")
    case timeout
    case connectionRefused(String)
    case connectionReset(String)
    case tlsFailure(String)
    case dnsFailure(String)
    /// The address policy refused the destination before any byte was sent.
    case refusedDestination(String)
    case cancelled
    /// Any other local or network failure.
    case failure(String)

    public var classification: DeliveryResult {
        switch self {
        case .status(let code, let retryAfter, _):
            let reason = description
            switch code {
            case 200..<300: return .sent(providerMessageID: nil)
            case 301, 308: return .disable(reason: reason)
            case 300..<400: return .retry(after: retryAfter, reason: reason)
            case 401, 403: return .disable(reason: reason)
            case 408, 409, 425: return .retry(after: retryAfter, reason: reason)
            case 410: return .disable(reason: reason)
            case 429: return .throttle(for: retryAfter, reason: reason)
            case 400..<500: return .deadLetter(reason: reason)
            case 500..<600: return .retry(after: retryAfter, reason: reason)
            default: return .retry(after: retryAfter, reason: reason)  // 1xx or nonsense: the exchange failed
            }
        case .timeout, .connectionRefused, .connectionReset, .tlsFailure, .dnsFailure, .cancelled, .failure:
            return .retry(after: nil, reason: description)
        case .refusedDestination:
            return .disable(reason: description)
        }
    }

    public var description: String {
        switch self {
        case .status(let code, _, let detail):
            let phrase = Self.reasonPhrases[code].map { " \($0)" } ?? ""
            return "HTTP \(code)\(phrase)\(detail.isEmpty ? "" : ": \(detail)")"
        case .timeout: return "timed out"
        case .connectionRefused(let detail): return "connection refused\(detail.isEmpty ? "" : " (\(detail))")"
        case .connectionReset(let detail): return "connection reset\(detail.isEmpty ? "" : " (\(detail))")"
        case .tlsFailure(let detail): return "TLS failure: \(detail)"
        case .dnsFailure(let detail): return "DNS failure: \(detail)"
        case .refusedDestination(let detail): return "destination refused: \(detail)"
        case .cancelled: return "cancelled"
        case .failure(let detail): return detail
        }
    }

    static let reasonPhrases: [Int: String] = [
        301: "Moved Permanently", 302: "Found", 303: "See Other", 307: "Temporary Redirect", 308: "Permanent Redirect",
        400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 408: "Request Timeout",
        409: "Conflict", 410: "Gone", 413: "Content Too Large", 422: "Unprocessable Content", 425: "Too Early",
        429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
        504: "Gateway Timeout",
    ]
}

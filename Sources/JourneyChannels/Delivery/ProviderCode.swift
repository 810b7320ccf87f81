import JourneyCore

/// What a provider's documented error code means for the touch, before the reason is attached.
enum ProviderCode: Sendable, Hashable {
    /// The channel holds for this long (the provider's rate limit).
    case throttle(TimeSpan)
    /// This touch may be tried again (after this long, or the schedule's next attempt).
    case retry(TimeSpan?)
    case disable
    case deadLetter

    func result(_ reason: String, retryAfter: TimeSpan? = nil) -> DeliveryResult {
        switch self {
        case .throttle(let span): return .throttle(for: span, reason: reason)
        case .retry(let span): return .retry(after: span ?? retryAfter, reason: reason)
        case .disable: return .disable(reason: reason)
        case .deadLetter: return .deadLetter(reason: reason)
        }
    }
}

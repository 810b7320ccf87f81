import JourneyCore

/// When to try a failed touch again: exponential backoff with jitter, capped, honouring `Retry-After`,
/// bounded by a number of attempts and an age.
///
/// The jitter is drawn from the touch id and the attempt number (a stable hash), not from a random
/// generator: the same touch always gets the same schedule, so tests and post-mortems reproduce it, while
/// touches that failed together still spread out instead of returning as a herd.
///
/// Attempt `n` (1-based: the number of failed attempts so far) waits
/// `min(maxDelay, initial · multiplier^(n-1))`, scaled down by up to `jitter` (0.2 → 80–100 % of it).
public struct RetrySchedule: Sendable, Hashable {
    /// The wait after the first failure.
    public var initial: TimeSpan
    public var multiplier: Double
    /// The longest wait between two attempts (before `Retry-After`, which may ask for more).
    public var maxDelay: TimeSpan
    /// The fraction of each wait that is random: 0 for none, 1 for "full jitter".
    public var jitter: Double
    /// Attempts in all, the first included; after the last failure the touch is dead-lettered.
    public var maxAttempts: Int
    /// How long after its first attempt a touch may still be retried.
    public var maxAge: TimeSpan

    public init(
        initial: TimeSpan = .seconds(10), multiplier: Double = 2, maxDelay: TimeSpan = .hours(1), jitter: Double = 0.2,
        maxAttempts: Int = 15, maxAge: TimeSpan = .hours(24)
    ) {
        precondition(initial.milliseconds > 0 && multiplier >= 1 && (0...1).contains(jitter) && maxAttempts >= 1)
        self.initial = initial
        self.multiplier = multiplier
        self.maxDelay = maxDelay
        self.jitter = jitter
        self.maxAttempts = maxAttempts
        self.maxAge = maxAge
    }

    /// The wait after failed attempt number `attempt` (1-based) of touch `touchID`, before `Retry-After`.
    public func delay(touchID: String, attempt: Int) -> TimeSpan {
        let exponent = Double(max(attempt - 1, 0))
        let raw = min(Double(maxDelay.milliseconds), Double(initial.milliseconds) * pow(multiplier, exponent))
        var hash = StableHash()
        hash.combine(touchID)
        hash.combine(UInt64(attempt))
        let unit = Double(hash.finalized >> 11) / Double(1 << 53)  // [0, 1)
        return .milliseconds(Int64((raw * (1 - jitter * unit)).rounded()))
    }

    /// What to do after failed attempt number `attempt` (1-based) that ended at `now`.
    ///
    /// - Parameters:
    ///   - firstAttempt: when the touch was first attempted (its age counts from there).
    ///   - retryAfter: the destination's `Retry-After`; the next attempt is never earlier.
    ///   - reason: why the attempt failed, kept in the dead-letter reason.
    public func next(
        touchID: String, attempt: Int, now: Timestamp, firstAttempt: Timestamp, retryAfter: TimeSpan?, reason: String
    ) -> Next {
        if attempt >= maxAttempts {
            return .giveUp(reason: "gave up after \(attempt) attempt\(attempt == 1 ? "" : "s"): \(reason)")
        }
        var wait = delay(touchID: touchID, attempt: attempt)
        if let retryAfter, retryAfter > wait { wait = retryAfter }
        let at = now + wait
        if at - firstAttempt > maxAge {
            return .giveUp(reason: "gave up after \(attempt) attempt\(attempt == 1 ? "" : "s") over \(now - firstAttempt) (max age \(maxAge)): \(reason)")
        }
        return .retry(at: at)
    }

    public enum Next: Sendable, Hashable {
        case retry(at: Timestamp)
        case giveUp(reason: String)
    }
}

private func pow(_ base: Double, _ exponent: Double) -> Double {
    var result = 1.0
    var n = Int(exponent)
    var b = base
    while n > 0 {
        if n & 1 == 1 { result *= b }
        b *= b
        n >>= 1
        if result > 1e18 { return result }
    }
    return result
}

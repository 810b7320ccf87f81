import JourneyCore

/// How the pipeline treats one channel: its rate limits, retry schedule, breaker and concurrency. Every
/// adapter type has defaults (``ChannelAdapterType/defaultPolicy``); `channels.yaml` can override them
/// with the keys every channel accepts:
///
/// ```yaml
/// rate_limit: { count: 20, per: 1m }           # or a list; add `burst: N` for a token bucket
/// retry: { initial: 10s, multiplier: 2, max_delay: 1h, jitter: 0.2, max_attempts: 15, max_age: 24h }
/// breaker: { failures: 5, open_for: 30s, max_open_for: 10m }
/// concurrency: 8                               # deliveries in flight on this channel at most
/// ```
public struct ChannelPolicy: Sendable, Hashable {
    public var rateLimits: [RateLimit]
    public var retry: RetrySchedule
    public var breaker: CircuitBreaker.Configuration
    /// Deliveries in flight on this channel at most.
    public var concurrency: Int
    /// How long to hold the channel when the destination throttles without saying for how long.
    public var throttleDefault: TimeSpan

    public init(
        rateLimits: [RateLimit] = [], retry: RetrySchedule = RetrySchedule(),
        breaker: CircuitBreaker.Configuration = .init(), concurrency: Int = 16, throttleDefault: TimeSpan = .seconds(60)
    ) {
        precondition(concurrency >= 1)
        self.rateLimits = rateLimits
        self.retry = retry
        self.breaker = breaker
        self.concurrency = concurrency
        self.throttleDefault = throttleDefault
    }

    /// Keys every channel accepts besides its adapter's own.
    static let commonKeys = ["rate_limit", "retry", "breaker", "concurrency"]

    /// These defaults with the overrides found in `options`.
    func reading(_ options: ChannelOptions) -> ChannelPolicy {
        var policy = self
        if let value = options.value("rate_limit"), !value.isNull {
            policy.rateLimits = Self.rateLimits(value, options: options)
        }
        if let retry = options.object("retry") {
            let d = policy.retry
            let initial = retry.duration("initial", default: d.initial, range: .milliseconds(1)...(.days(1)))
            let multiplier = retry.number("multiplier", default: d.multiplier, range: 1...10)
            let maxDelay = retry.duration("max_delay", default: d.maxDelay, range: .milliseconds(1)...(.days(7)))
            let jitter = retry.number("jitter", default: d.jitter, range: 0...1)
            let attempts = retry.integer("max_attempts", default: d.maxAttempts, range: 1...1000)
            let maxAge = retry.duration("max_age", default: d.maxAge, range: .seconds(1)...(.days(30)))
            if maxDelay < initial { retry.problem("max_delay", "must not be shorter than initial (\(initial))") }
            policy.retry = RetrySchedule(
                initial: initial, multiplier: multiplier, maxDelay: max(maxDelay, initial), jitter: jitter,
                maxAttempts: attempts, maxAge: maxAge)
        }
        if let breaker = options.object("breaker") {
            let d = policy.breaker
            let failures = breaker.integer("failures", default: d.failureThreshold, range: 1...10_000)
            let openFor = breaker.duration("open_for", default: d.openFor, range: .milliseconds(1)...(.days(1)))
            let maxOpenFor = breaker.duration("max_open_for", default: max(d.maxOpenFor, openFor), range: .milliseconds(1)...(.days(7)))
            if maxOpenFor < openFor { breaker.problem("max_open_for", "must not be shorter than open_for (\(openFor))") }
            policy.breaker = .init(failureThreshold: failures, openFor: openFor, maxOpenFor: max(maxOpenFor, openFor))
        }
        policy.concurrency = options.integer("concurrency", default: policy.concurrency, range: 1...1024)
        return policy
    }

    private static func rateLimits(_ value: Value, options: ChannelOptions) -> [RateLimit] {
        let items: [(Value, String)]
        switch value {
        case .array(let list): items = list.enumerated().map { ($1, "rate_limit[\($0)]") }
        case .object: items = [(value, "rate_limit")]
        default:
            options.problem("rate_limit", "expected {count: N, per: DURATION} or a list of them, found a \(value.typeName)")
            return []
        }
        var limits: [RateLimit] = []
        for (item, path) in items {
            let members = item.members ?? []
            let known: Set = ["count", "per", "burst"]
            for m in members where !known.contains(m.key) {
                options.problem("\(path).\(m.key)", "unknown option\(Suggestions.didYouMean(m.key, in: known)) (known here: burst, count, per)")
            }
            guard item.members != nil, case .number(let c)? = item["count"], c >= 1, c == c.rounded(), c < 1e9 else {
                options.problem("\(path).count", "expected a whole number of sends ≥ 1")
                continue
            }
            guard case .string(let perText)? = item["per"], let per = TimeSpan(parsing: perText), per.milliseconds >= 1 else {
                options.problem("\(path).per", "expected a duration such as 1s or 1m")
                continue
            }
            var burst: Int?
            if let b = item["burst"], !b.isNull {
                guard case .number(let n) = b, n >= 1, n == n.rounded(), n < 1e9 else {
                    options.problem("\(path).burst", "expected a whole number ≥ 1")
                    continue
                }
                burst = Int(n)
            }
            limits.append(RateLimit(count: Int(c), per: per, burst: burst))
        }
        return limits
    }
}

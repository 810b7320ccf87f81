import JourneyCore

/// One rate limit of a channel: at most `count` sends per `per`.
///
/// - `burst == nil` (a **hard** limit): at most `count` sends in *any* window of length `per` — a sliding
///   window over the last `count` send times. This is what providers that punish overruns need (DingTalk
///   and WeCom robots: 20 per minute; DingTalk locks a robot out for 10 minutes after an overrun).
/// - `burst: b`: a token bucket of `b` tokens refilled at `count / per` — bursts of up to `b`, then the
///   steady rate (Slack: about one per second with short bursts).
public struct RateLimit: Sendable, Hashable, CustomStringConvertible {
    public var count: Int
    public var per: TimeSpan
    public var burst: Int?

    public init(count: Int, per: TimeSpan, burst: Int? = nil) {
        precondition(count >= 1 && per.milliseconds >= 1 && (burst ?? 1) >= 1)
        self.count = count
        self.per = per
        self.burst = burst
    }

    public var description: String { "\(count)/\(per)\(burst.map { " (burst \($0))" } ?? "")" }
}

/// The rate limits of one channel, as a pure value: ask it at `now`, and it either takes a slot or says
/// when the next one frees. No clock, no sleeping: the pipeline holds what cannot go yet.
public struct RateLimiter: Sendable {
    public private(set) var limits: [RateLimit]
    private var windows: [Window]

    public init(_ limits: [RateLimit]) {
        self.limits = limits
        self.windows = limits.map { Window($0) }
    }

    /// Takes one slot from every limit at `now` and returns nil; or takes none and returns the earliest
    /// time at which all limits would allow one.
    public mutating func acquire(at now: Timestamp) -> Timestamp? {
        var earliest: Timestamp?
        for w in windows {
            if let free = w.nextFree(at: now), free > now { earliest = max(earliest ?? free, free) }
        }
        if let earliest { return earliest }
        for i in windows.indices { windows[i].take(at: now) }
        return nil
    }

    /// When a slot frees at the earliest (nil: one is free at `now`).
    public func nextFree(at now: Timestamp) -> Timestamp? {
        var earliest: Timestamp?
        for w in windows {
            if let free = w.nextFree(at: now), free > now { earliest = max(earliest ?? free, free) }
        }
        return earliest
    }

    /// What the windows have seen (send times, tokens), to carry a limiter across a restart or a reload.
    public struct Memory: Sendable, Hashable {
        var windows: [(sends: [Timestamp], next: Int, milliTokens: Int64, updated: Timestamp)]
        public static func == (a: Memory, b: Memory) -> Bool {
            a.windows.count == b.windows.count
                && zip(a.windows, b.windows).allSatisfy { $0.sends == $1.sends && $0.next == $1.next && $0.milliTokens == $1.milliTokens && $0.updated == $1.updated }
        }
        public func hash(into hasher: inout Hasher) {
            for w in windows {
                hasher.combine(w.sends)
                hasher.combine(w.milliTokens)
            }
        }
    }

    public var memory: Memory { Memory(windows: windows.map { ($0.sends, $0.next, $0.milliTokens, $0.updated) }) }

    /// The same limits, having seen what `memory` says (ignored when the limits differ in number).
    public mutating func restore(_ memory: Memory) {
        guard memory.windows.count == windows.count else { return }
        for (i, w) in memory.windows.enumerated() where w.sends.count <= windows[i].limit.count {
            windows[i].sends = w.sends
            windows[i].next = w.sends.isEmpty ? 0 : w.next % max(1, w.sends.count)
            windows[i].milliTokens = w.milliTokens
            windows[i].updated = w.updated
        }
    }

    private struct Window: Sendable {
        let limit: RateLimit
        // Hard: the last `count` send times (a ring). Bucket: tokens as of `updated`, in thousandths.
        var sends: [Timestamp] = []
        var next = 0
        var milliTokens: Int64
        var updated = Timestamp.distantPast

        init(_ limit: RateLimit) {
            self.limit = limit
            self.milliTokens = Int64(limit.burst ?? 0) * 1000
        }

        /// Milli-tokens gained per millisecond is count·1000/per; kept exact by integer arithmetic.
        func tokens(at now: Timestamp) -> Int64 {
            guard let burst = limit.burst else { return 0 }
            if updated == .distantPast { return Int64(burst) * 1000 }
            let gained = (now.milliseconds - updated.milliseconds) * Int64(limit.count) * 1000 / limit.per.milliseconds
            return min(Int64(burst) * 1000, milliTokens + max(gained, 0))
        }

        func nextFree(at now: Timestamp) -> Timestamp? {
            if limit.burst != nil {
                let have = tokens(at: now)
                if have >= 1000 { return nil }
                // Time for the missing milli-tokens, rounded up.
                let missing = 1000 - have
                let ms = (missing * limit.per.milliseconds + Int64(limit.count) * 1000 - 1) / (Int64(limit.count) * 1000)
                return now + .milliseconds(ms)
            }
            guard sends.count == limit.count else { return nil }
            let oldest = sends[next]
            let free = oldest + limit.per
            return free > now ? free : nil
        }

        mutating func take(at now: Timestamp) {
            if limit.burst != nil {
                milliTokens = tokens(at: now) - 1000
                updated = now
                return
            }
            if sends.count < limit.count {
                sends.append(now)
            } else {
                sends[next] = now
                next = (next + 1) % limit.count
            }
        }
    }
}

public import JourneyCore

/// What the delivery pipeline knows about a channel beyond its configuration — the sends its rate-limit
/// windows have seen, its breaker, a disabled reason, a throttle — so that a restart or a reload does not
/// forget it: right after either, a DingTalk robot at its 20-per-minute limit still gets no 21st
/// message that minute, and an open breaker stays open.
///
/// Tied to the channel's ``ConfiguredChannel/fingerprint``: a channel whose definition changed starts
/// afresh.
public struct ChannelState: Sendable, Hashable {
    public var fingerprint: String
    var limiter: RateLimiter.Memory
    var breaker: CircuitBreaker.State
    var breakerOpenFor: TimeSpan
    var disabledReason: String?
    var throttledUntil: Timestamp?
    var throttleReason: String

    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 128)
        w.byte(1)
        w.string(fingerprint)
        w.varint(UInt64(limiter.windows.count))
        for window in limiter.windows {
            w.varint(UInt64(window.sends.count))
            for send in window.sends { w.timestamp(send) }
            w.int(window.next)
            w.signed(window.milliTokens)
            w.timestamp(window.updated)
        }
        switch breaker {
        case .closed(let failures):
            w.byte(0)
            w.int(failures)
        case .open(let until):
            w.byte(1)
            w.timestamp(until)
        case .halfOpen:
            w.byte(2)
        }
        w.signed(breakerOpenFor.milliseconds)
        w.optionalString(disabledReason)
        w.optionalTimestamp(throttledUntil)
        w.string(throttleReason)
        return w.bytes
    }

    public init(encoded bytes: [UInt8]) throws(BinaryDecodingError) {
        var decoded: ChannelState?
        var failure: BinaryDecodingError?
        bytes.withUnsafeBytes { raw in
            var r = ByteReader(raw)
            do throws(BinaryDecodingError) { decoded = try Self(from: &r) } catch { failure = error }
        }
        if let failure { throw failure }
        self = decoded!
    }

    private init(from r: inout ByteReader) throws(BinaryDecodingError) {
        let format = try r.byte()
        guard format == 1 else { throw BinaryDecodingError(offset: 0, reason: "unknown channel state format \(format)") }
        fingerprint = try r.string()
        limiter = RateLimiter.Memory(
            windows: try r.list { r throws(BinaryDecodingError) in
                (try r.list { r throws(BinaryDecodingError) in try r.timestamp() }, try r.int(), try r.signed(), try r.timestamp())
            })
        switch try r.byte() {
        case 0: breaker = .closed(consecutiveFailures: try r.int())
        case 1: breaker = .open(until: try r.timestamp())
        default: breaker = .halfOpen(probeInFlight: false)
        }
        breakerOpenFor = TimeSpan(milliseconds: try r.signed())
        disabledReason = try r.optionalString()
        throttledUntil = try r.optionalTimestamp()
        throttleReason = try r.string()
    }

    init(
        fingerprint: String, limiter: RateLimiter.Memory, breaker: CircuitBreaker.State, breakerOpenFor: TimeSpan,
        disabledReason: String?, throttledUntil: Timestamp?, throttleReason: String
    ) {
        self.fingerprint = fingerprint
        self.limiter = limiter
        self.breaker = breaker
        self.breakerOpenFor = breakerOpenFor
        self.disabledReason = disabledReason
        self.throttledUntil = throttledUntil
        self.throttleReason = throttleReason
    }
}

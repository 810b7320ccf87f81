/// Event-time sanity (DESIGN §3): a client's wrong clock is corrected with `sentAt` the way Segment
/// does it, and an event whose time lies too far in the future or the past of its receipt is refused
/// with its reason (or clamped to the bound, as configured) — so a line claiming the year 9999 can
/// neither move the event clock to the end of time nor fire every timer.
///
/// Applied where an event is received (the time of receipt is recorded with it), and again, with that
/// same recorded time, when the log is replayed: the outcome is the same both times.
public struct EventTimePolicy: Sendable, Hashable {
    /// `events.future`: how far after its receipt an event's time may lie (nil: no bound).
    public var future: TimeSpan?
    /// `events.past`: how far before its receipt (nil: no bound — back-fills of old data are fine).
    public var past: TimeSpan?
    /// `events.out_of_bounds: clamp`: move an out-of-bounds time to the bound instead of refusing it.
    public var clamp: Bool
    /// `events.clock_skew: correct` (the default): shift the time by receipt − `sentAt`.
    public var correctSkew: Bool

    public init(future: TimeSpan? = .days(1), past: TimeSpan? = nil, clamp: Bool = false, correctSkew: Bool = true) {
        self.future = future
        self.past = past
        self.clamp = clamp
        self.correctSkew = correctSkew
    }

    /// What the policy did to an event's time.
    public enum Outcome: Sendable, Equatable {
        case unchanged
        /// Corrected for the client's clock: `sentAt` said `sentAt`, the event arrived at `receivedAt`.
        case corrected(by: TimeSpan)
        /// Moved to the bound (`events.out_of_bounds: clamp`) from the time it claimed.
        case clamped(from: Timestamp)
        /// Refused, with why.
        case refused(path: String, reason: String)
    }

    /// Applies the policy to `event`, received at `receivedAt`.
    public func apply(to event: inout Event, receivedAt: Timestamp) -> Outcome {
        var outcome = Outcome.unchanged
        // An event that carries its own `receivedAt` was received (and corrected) upstream — a Segment
        // export being back-filled: its times stand as they are.
        if correctSkew, event.extra["receivedAt"] == nil, let text = event.extra["sentAt"]?.stringValue,
            let sentAt = Timestamp(iso8601: text)
        {
            let skew = receivedAt - sentAt
            // Segment: timestamp = receivedAt - (sentAt - timestamp). Tiny differences are transit time.
            if abs(skew.milliseconds) >= 1000 {
                event.timestamp = event.timestamp + skew
                outcome = .corrected(by: skew)
            }
        }
        if let future, event.timestamp > receivedAt + future {
            if clamp {
                let claimed = event.timestamp
                event.timestamp = receivedAt + future
                return .clamped(from: claimed)
            }
            return .refused(
                path: "$.timestamp",
                reason: "\(event.timestamp.iso8601) is more than \(future) after the event was received (\(receivedAt.iso8601)); see events.future")
        }
        if let past, event.timestamp < receivedAt - past {
            if clamp {
                let claimed = event.timestamp
                event.timestamp = receivedAt - past
                return .clamped(from: claimed)
            }
            return .refused(
                path: "$.timestamp",
                reason: "\(event.timestamp.iso8601) is more than \(past) before the event was received (\(receivedAt.iso8601)); see events.past")
        }
        return outcome
    }
}

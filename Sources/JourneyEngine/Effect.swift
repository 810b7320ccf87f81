public import JourneyCore

/// What the engine asks the world to do, or reports, as the result of one input.
public enum Effect: Sendable, Hashable {
    /// A touch to enqueue for delivery.
    case touch(Touch)
    /// Something that happened to an enrollment or an input: counted in funnels, logged by the daemon.
    case outcome(Outcome)
}

/// One recorded decision of the engine.
public struct Outcome: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// A user entered the journey.
        case entered
        /// An enrollment arrived at `step`.
        case reached
        /// The goal event happened within the window.
        case converted
        /// The enrollment ended (`detail` says why: completed, exit_when, goal, late, holdout, step removed…).
        case exited
        /// A cap dropped a touch.
        case capped
        /// A touch was held (quiet hours or a `defer` cap) until `until`.
        case deferred(until: Timestamp)
        /// The user closed this channel: the touch was not produced.
        case suppressed
        /// A late timer skipped the touch (`late: {then: skip}`).
        case skippedLate
        /// The enrollment fell into a split's holdout.
        case heldOut
        /// An `update` step changed traits.
        case updated
        /// The event's messageId was already seen: ignored.
        case duplicate
        /// The user's lifecycle stage changed from `from` ("" for none) to `detail` (journeyd.yaml `stages`;
        /// "" when the profile was merged into another user's).
        case stageChanged(from: String)
    }

    public var kind: Kind
    public var user: String
    public var journey: String
    public var step: String
    /// Free text: the exit reason, the cap that applied, the variant…
    public var detail: String
    public var at: Timestamp

    public init(kind: Kind, user: String, journey: String = "", step: String = "", detail: String = "", at: Timestamp) {
        self.kind = kind
        self.user = user
        self.journey = journey
        self.step = step
        self.detail = detail
        self.at = at
    }

    public var description: String {
        var s = "\(at.iso8601) \(kind) user=\(user)"
        if !journey.isEmpty { s += " journey=\(journey)" }
        if !step.isEmpty { s += " step=\(step)" }
        if !detail.isEmpty { s += " (\(detail))" }
        return s
    }
}

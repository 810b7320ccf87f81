/// Where a touch is in its delivery (DESIGN §6): `pending → attempting → sent | retry | dead_letter |
/// in_doubt`.
public enum DeliveryState: String, Sendable, CaseIterable {
    /// Waiting for its due time (or for its channel).
    case pending
    /// Handed to its channel; the outcome is not known yet. Durable before the attempt starts, so a crash
    /// leaves it `in_doubt` (resent only where the provider deduplicates by touch id).
    case attempting
    case sent
    /// Failed or held back; due again at `nextAttempt`.
    case retry
    case deadLetter = "dead_letter"
    /// Interrupted mid-delivery on a channel that cannot deduplicate: held and counted, never resent.
    case inDoubt = "in_doubt"

    /// Whether nothing more will happen to the touch.
    public var isFinal: Bool { self == .sent || self == .deadLetter || self == .inDoubt }
}

/// One touch in the outbox: the touch, its rendered message and its delivery bookkeeping.
public struct OutboxEntry: Sendable, Hashable {
    public var touch: Touch
    /// What will be sent; nil when rendering failed (the entry is then dead-lettered with the reason).
    public var message: RenderedMessage?
    /// When the touch stops being worth sending (`delivery.expire_after`).
    public var expiresAt: Timestamp?
    public var state: DeliveryState
    public var attempts: Int
    /// For `retry` (and a disabled channel's held touches): when the touch is due again.
    public var nextAttempt: Timestamp?
    /// When the first attempt began (retries give up by age from here).
    public var firstAttemptAt: Timestamp?
    /// Why it is where it is: the last failure, the dead-letter reason, the provider's message id.
    public var reason: String?

    public init(
        touch: Touch, message: RenderedMessage?, expiresAt: Timestamp? = nil, state: DeliveryState = .pending,
        attempts: Int = 0, nextAttempt: Timestamp? = nil, firstAttemptAt: Timestamp? = nil, reason: String? = nil
    ) {
        self.touch = touch
        self.message = message
        self.expiresAt = expiresAt
        self.state = state
        self.attempts = attempts
        self.nextAttempt = nextAttempt
        self.firstAttemptAt = firstAttemptAt
        self.reason = reason
    }

    /// When the dispatcher should next look at it: its due time while pending, its retry time after.
    public var dueAt: Timestamp? {
        switch state {
        case .pending: return touch.at
        case .retry: return nextAttempt ?? touch.at
        default: return nil
        }
    }
}

/// What one delivery attempt (or a restart) decided for a touch: the outbox change the log records and a
/// checkpoint keeps.
public struct DeliveryUpdate: Sendable, Hashable {
    public var touchID: String
    public var state: DeliveryState
    public var reason: String?
    public var nextAttempt: Timestamp?
    /// Attempts made so far, when known (nil keeps the stored count).
    public var attempts: Int?
    /// When the first attempt began, when known (nil keeps the stored time).
    public var firstAttemptAt: Timestamp?

    public init(
        touchID: String, state: DeliveryState, reason: String? = nil, nextAttempt: Timestamp? = nil, attempts: Int? = nil,
        firstAttemptAt: Timestamp? = nil
    ) {
        self.touchID = touchID
        self.state = state
        self.reason = reason
        self.nextAttempt = nextAttempt
        self.attempts = attempts
        self.firstAttemptAt = firstAttemptAt
    }

    /// Applies the update to `entry`.
    public func apply(to entry: inout OutboxEntry) {
        entry.state = state
        entry.reason = reason
        entry.nextAttempt = nextAttempt
        if let attempts { entry.attempts = attempts }
        if let firstAttemptAt { entry.firstAttemptAt = firstAttemptAt }
    }
}

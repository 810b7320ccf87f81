/// What the engine decided for one user on one input (an event or a timer), for
/// `journeyd explain`: which journeys' triggers matched, each entry condition with the values it read,
/// re-entry, consent, quiet hours, caps, holdout and late decisions with their reason, and each touch.
///
/// A user keeps the last few (``UserState/trace``, bounded by `explain.trace` in journeyd.yaml); they are
/// part of the user's state, so checkpoints keep them and replaying the log rebuilds them exactly.
public struct DecisionRecord: Sendable, Equatable {
    /// The engine's `now` for the input.
    public var at: Timestamp
    /// What the input was: `track "Order Completed" (messageId m-1)`, `timer: wait ended (journey cart)`.
    public var input: String
    public var decisions: [Decision]

    public init(at: Timestamp, input: String, decisions: [Decision] = []) {
        self.at = at
        self.input = input
        self.decisions = decisions
    }
}

/// One decision, with the rule that made it and what it read.
public struct Decision: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// A journey's trigger matched (or its condition did not).
        case trigger
        /// The entry condition and key: entered, or refused with the values the condition read.
        case entry
        /// The re-entry policy or a running enrollment refused an entry.
        case reentry
        /// An enrollment moved to a step (a branch taken, a wait armed, a split arm chosen).
        case step
        /// The user's `unsubscribed` trait closed the channel.
        case consent
        /// Quiet hours held a touch.
        case quietHours = "quiet_hours"
        /// A cap dropped or deferred a touch.
        case cap
        /// A split put the enrollment in its holdout.
        case holdout
        /// A timer fired later than the journey's `late.after`.
        case late
        /// A touch was produced.
        case touch
        /// The goal event arrived (converted) or not in time.
        case goal
        /// The enrollment ended.
        case exit
        /// The event's messageId was already seen.
        case duplicate
        /// Identity: an `alias` or `identify` merged another id into this user, or was a no-op.
        case identity
        /// A segment trigger that time alone can make true was (re)scheduled or re-evaluated.
        case recheck
    }

    public var kind: Kind
    public var journey: String
    public var step: String
    /// The decision in a word or two: `matched`, `entered`, `refused`, `deferred`, `dropped`, `sent`…
    public var verdict: String
    /// Why, with the values read: `entry.condition user.plan == "pro" is false: user.plan = "free"`.
    public var reason: String

    public init(_ kind: Kind, journey: String = "", step: String = "", verdict: String, reason: String = "") {
        self.kind = kind
        self.journey = journey
        self.step = step
        self.verdict = verdict
        self.reason = reason
    }
}

extension UserState {
    /// Appends `record` to the decision trace, keeping the newest `limit` records.
    public mutating func remember(_ record: DecisionRecord, limit: Int) {
        guard limit > 0 else { return }
        if trace.count >= limit { trace.removeFirst(trace.count - limit + 1) }
        trace.append(record)
    }
}

extension DecisionRecord {
    func encode(into w: inout ByteWriter) {
        w.timestamp(at)
        w.string(input)
        w.varint(UInt64(decisions.count))
        for d in decisions {
            w.string(d.kind.rawValue)
            w.string(d.journey)
            w.string(d.step)
            w.string(d.verdict)
            w.string(d.reason)
        }
    }

    init(from r: inout ByteReader) throws(BinaryDecodingError) {
        self.init(at: try r.timestamp(), input: try r.string())
        decisions = try r.list { r throws(BinaryDecodingError) in
            let name = try r.string()
            guard let kind = Decision.Kind(rawValue: name) else {
                throw BinaryDecodingError(offset: r.offset, reason: "unknown decision kind \(name)")
            }
            return Decision(kind, journey: try r.string(), step: try r.string(), verdict: try r.string(), reason: try r.string())
        }
    }
}

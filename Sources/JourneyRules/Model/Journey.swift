public import JourneyCore

/// A validated journey: one rule file, resolved and ready for the engine. Immutable.
///
/// Built only by ``RuleLoader``; every reference in it (step targets, channels, templates, journeys to
/// enroll in) has been checked, so the engine never meets a dangling name. A class, because the engine
/// hands journeys around on its hot path: passing one costs a reference, not a copy of every field.
public final class Journey: Sendable, Identifiable {
    /// The `journey:` id, unique in a rule set.
    public let id: String
    public let description: String
    /// A content hash of the journey file (16 hex digits). Enrollments record it; see ``OnChange``.
    public let version: String
    /// Where it was loaded from, for messages (`journeys/cart.yaml`).
    public let file: String
    /// The file's text: kept so that a durable store can reload this exact version after a restart for
    /// users pinned to it (`on_change: pin`).
    public let source: String
    /// Transactional journeys bypass marketing caps and quiet hours (never consent).
    public let transactional: Bool
    public let trigger: Trigger
    public let entry: Entry
    /// Any of these events exits every running enrollment of this journey for the user.
    public let exitWhen: [EventMatch]
    public let goal: Goal?
    public let limits: Limits
    public let onChange: OnChange
    /// Steps in file order; targets refer to indices into this array.
    public let steps: [Step]

    public init(
        id: String, description: String = "", version: String, file: String, transactional: Bool = false,
        trigger: Trigger, entry: Entry = Entry(), exitWhen: [EventMatch] = [], goal: Goal? = nil,
        limits: Limits = Limits(), onChange: OnChange = .pin, steps: [Step], source: String = ""
    ) {
        self.source = source
        self.id = id
        self.description = description
        self.version = version
        self.file = file
        self.transactional = transactional
        self.trigger = trigger
        self.entry = entry
        self.exitWhen = exitWhen
        self.goal = goal
        self.limits = limits
        self.onChange = onChange
        self.steps = steps
    }

    /// The index of the step with `id`, if any.
    public func stepIndex(id: String) -> Int? { steps.firstIndex { $0.id == id } }
}

/// An event name plus an optional condition on it (`exit_when`, `goal`, `wait_for`).
public struct EventMatch: Sendable {
    /// Which events: `track` (by event name), `page` (by page name or `properties.path`), `screen` (by name).
    public enum Kind: String, Sendable {
        case track, page, screen
    }
    /// A track event name (a page name or path, a screen name), or `*` for any of the kind.
    public var event: String
    public var condition: Expression?
    public var kind: Kind
    public init(event: String, condition: Expression? = nil, kind: Kind = .track) {
        self.event = event
        self.condition = condition
        self.kind = kind
    }
}

public enum Trigger: Sendable {
    /// A track event named `event` (or `*`: any track event) for which `condition` holds.
    case event(EventMatch)
    /// An identify that changes trait `trait` and after which `condition` holds (e.g. `user.tier == "gold"`).
    case traitChange(trait: String, condition: Expression?)
    /// A date relative to a profile date trait, in the user's time zone.
    case date(DateTrigger)
    /// A condition on the profile becomes true (it was false, or unknown, before the change).
    case segment(Expression)
    /// The user's lifecycle stage becomes `becomes` (from `from`, when given). See ``Stage``.
    case stage(becomes: String, from: String?)
}

public struct DateTrigger: Sendable {
    /// The trait holding the date (`birthday`, `signup_at`): RFC 3339 or `YYYY-MM-DD`.
    public var trait: String
    /// Days after (positive) or before (negative) the date.
    public var offsetDays: Int
    /// Local time of day at which the journey starts.
    public var at: TimeOfDay
    /// Repeats every year on the anniversary (birthdays), else fires once per date value.
    public var yearly: Bool
    public init(trait: String, offsetDays: Int = 0, at: TimeOfDay = TimeOfDay(hour: 9, minute: 0), yearly: Bool = false) {
        self.trait = trait
        self.offsetDays = offsetDays
        self.at = at
        self.yearly = yearly
    }
}

public struct Entry: Sendable {
    public enum Reentry: Sendable, Hashable {
        /// A user (per key) enters at most once, ever.
        case once
        /// A user may enter again whenever the trigger fires and no enrollment with the same key runs.
        case always
        /// As `always`, but only when the last entry (per key) is at least this long ago.
        case after(TimeSpan)
    }
    /// Condition on the user (and the trigger event, for event triggers) to enter.
    public var condition: Expression?
    public var reentry: Reentry
    /// Enrollments are distinct per key value (e.g. `event.properties.cart_id`); nil = one key per user.
    public var key: Expression?
    public init(condition: Expression? = nil, reentry: Reentry = .once, key: Expression? = nil) {
        self.condition = condition
        self.reentry = reentry
        self.key = key
    }
}

public struct Goal: Sendable {
    public var match: EventMatch
    /// The conversion window from entry; nil = for as long as the enrollment runs.
    public var within: TimeSpan?
    public init(match: EventMatch, within: TimeSpan?) {
        self.match = match
        self.within = within
    }
}

public struct Limits: Sendable {
    public var cap: Cap?
    public var quietHours: QuietHours?
    public var late: LatePolicy?
    public init(cap: Cap? = nil, quietHours: QuietHours? = nil, late: LatePolicy? = nil) {
        self.cap = cap
        self.quietHours = quietHours
        self.late = late
    }
}

/// At most `touches` touches per `per` (a rolling window) for one user.
public struct Cap: Sendable, Hashable {
    public enum Over: String, Sendable, Hashable {
        /// Skip the touch and carry on with the next step.
        case drop
        /// Hold the touch until the window allows it.
        case `defer`
    }
    public enum Window: String, Sendable, Hashable {
        /// Any span of `per` ending now (the default).
        case rolling
        /// Calendar days in the user's time zone: `per: 1d` is "today", `per: 7d` today and the six days
        /// before; the count starts again at local midnight.
        case calendar
    }
    public var touches: Int
    public var per: TimeSpan
    public var over: Over
    /// For global caps: the channel it applies to, or nil for all channels.
    public var channel: String?
    public var window: Window
    public init(touches: Int, per: TimeSpan, over: Over = .drop, channel: String? = nil, window: Window = .rolling) {
        self.touches = touches
        self.per = per
        self.over = over
        self.channel = channel
        self.window = window
    }

    /// Calendar days a `calendar` cap covers.
    public var days: Int64 { max(1, per.milliseconds / 86_400_000) }
}

/// A local-time window in which touches are held until its end. `from > to` wraps midnight.
public struct QuietHours: Sendable, Hashable {
    public var from: TimeOfDay
    public var to: TimeOfDay
    public init(from: TimeOfDay, to: TimeOfDay) {
        self.from = from
        self.to = to
    }

    public func contains(_ t: TimeOfDay) -> Bool {
        from <= to ? (t >= from && t < to) : (t >= from || t < to)
    }
}

/// What to do when a timer fires more than `after` past its due time (the daemon was down, say).
public struct LatePolicy: Sendable, Hashable {
    public enum Then: String, Sendable, Hashable {
        /// Carry on as if on time.
        case send
        /// Skip the touches of this run up to the next wait, and carry on.
        case skip
        /// End the enrollment.
        case exit
    }
    public var after: TimeSpan
    public var then: Then
    public init(after: TimeSpan, then: Then) {
        self.after = after
        self.then = then
    }
}

/// What users mid-journey do when the journey's file changes.
public enum OnChange: String, Sendable, Hashable {
    /// Keep running the version they entered; it stays loaded until its last enrollment ends.
    case pin
    /// Move to the step with the same id in the new version, or exit (logged) when it is gone.
    case follow
}

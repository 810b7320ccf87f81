public import JourneyCore

/// One step of a journey. A class for the same reason as ``Journey``.
public final class Step: Sendable {
    /// The step's id: given in the file, or `step<N>` (1-based) when omitted.
    public let id: String
    /// Whether the id was written in the file (generated ids are not stable across edits, which matters
    /// for `on_change: follow`).
    public let hasExplicitId: Bool
    public let kind: Kind
    /// Where to go after this step when it completes normally (`next:` or the following step).
    public let next: Target
    /// Position in the file, for messages.
    public let line: Int

    public init(id: String, hasExplicitId: Bool = true, kind: Kind, next: Target, line: Int = 0) {
        self.id = id
        self.hasExplicitId = hasExplicitId
        self.kind = kind
        self.next = next
        self.line = line
    }

    public enum Kind: Sendable {
        case send(Send)
        case wait(Wait)
        case waitFor(WaitFor)
        case branch([BranchArm], otherwise: Target)
        case split([SplitArm])
        case update([TraitUpdate])
        case enroll(journey: String)
        case exit
    }

    /// True for steps that stop a run until a timer or an event (what breaks a cycle).
    public var suspends: Bool {
        switch kind {
        case .wait, .waitFor: return true
        default: return false
        }
    }
}

/// Where control goes.
public enum Target: Sendable, Hashable {
    case step(Int)
    case exit
}

public struct Send: Sendable {
    /// The channel name (from channels.yaml).
    public var channel: String
    /// The template name (file name under templates/ without extension).
    public var template: String
    public init(channel: String, template: String) {
        self.channel = channel
        self.template = template
    }
}

public enum Wait: Sendable {
    /// A fixed span.
    case duration(TimeSpan)
    /// The next local `time` (strictly after now) on one of `weekdays` (ISO 1…7; empty = any day).
    case until(time: TimeOfDay, weekdays: Set<Int>)
    /// Until a date in a profile trait, shifted by `offsetDays`, at local `at`. Continues at once if
    /// that moment is past; goes to `ifMissing` when the trait is missing or not a date.
    case untilDate(trait: String, offsetDays: Int, at: TimeOfDay, ifMissing: Target)
}

public struct WaitFor: Sendable {
    public var match: EventMatch
    public var timeout: TimeSpan
    public var onEvent: Target
    public var onTimeout: Target
    public init(match: EventMatch, timeout: TimeSpan, onEvent: Target, onTimeout: Target) {
        self.match = match
        self.timeout = timeout
        self.onEvent = onEvent
        self.onTimeout = onTimeout
    }
}

public struct BranchArm: Sendable {
    public var condition: Expression
    public var target: Target
    public init(condition: Expression, target: Target) {
        self.condition = condition
        self.target = target
    }
}

public struct SplitArm: Sendable {
    /// The arm's name (`variant` in the funnel and `enrollment.variant`).
    public var name: String
    /// Share in hundredths of a percent (10000 = 100%), so `12.5` is exact.
    public var basisPoints: Int
    /// A holdout receives nothing from here on and is measured (it stays enrolled for the goal window).
    public var holdout: Bool
    public var target: Target
    public init(name: String, basisPoints: Int, holdout: Bool, target: Target) {
        self.name = name
        self.basisPoints = basisPoints
        self.holdout = holdout
        self.target = target
    }
}

public enum TraitUpdate: Sendable {
    case set(String, Value)
    case increment(String, Double)
    case addTag(String)
    case removeTag(String)
    case unset(String)
}

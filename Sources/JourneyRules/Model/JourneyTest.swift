public import JourneyCore

/// One test from `tests/*.yaml`: events at given times, then what must (and must not) have been sent.
public struct JourneyTest: Sendable {
    public var name: String
    public var file: String
    public var line: Int
    /// Journeys active in this test; empty = all journeys of the rule set.
    public var journeys: [String]
    /// Initial traits per user, applied before the first event (as identify at `start`).
    public var users: [(id: String, traits: Value)]
    public var start: Timestamp
    public var events: [Event]
    /// The simulated clock runs to here after the last event (timers due by then fire).
    public var runUntil: Timestamp
    public var expect: Expectations
    /// Simulated downtime: no timer fires inside `[from, to)`; those due then fire late, at `to`, under
    /// the journey's `late` policy — as after a daemon restart. Written `{ at: …, outage: 8h }` in `events`.
    public var outages: [Outage] = []

    public struct Outage: Sendable, Hashable {
        public var from: Timestamp
        public var to: Timestamp
        public init(from: Timestamp, to: Timestamp) {
            self.from = from
            self.to = to
        }
    }

    public init(
        name: String, file: String, line: Int, journeys: [String], users: [(id: String, traits: Value)],
        start: Timestamp, events: [Event], runUntil: Timestamp, expect: Expectations
    ) {
        self.name = name
        self.file = file
        self.line = line
        self.journeys = journeys
        self.users = users
        self.start = start
        self.events = events
        self.runUntil = runUntil
        self.expect = expect
    }
}

public struct Expectations: Sendable {
    /// Touches that must have been produced (each matches one distinct touch).
    public var touches: [TouchPattern]
    /// When true (the default), no touch other than those listed may be produced.
    public var exact: Bool
    /// Patterns no touch may match.
    public var noTouches: [TouchPattern]
    /// Expected funnel counters: journey id → counter name → value (only the ones listed are checked).
    public var funnel: [String: [String: Int]]
    /// Expected final traits: user → trait → value.
    public var traits: [String: Value]

    public init(
        touches: [TouchPattern] = [], exact: Bool = true, noTouches: [TouchPattern] = [],
        funnel: [String: [String: Int]] = [:], traits: [String: Value] = [:]
    ) {
        self.touches = touches
        self.exact = exact
        self.noTouches = noTouches
        self.funnel = funnel
        self.traits = traits
    }
}

/// A partial description of a touch; nil fields match anything.
public struct TouchPattern: Sendable, CustomStringConvertible {
    public var user: String?
    public var journey: String?
    public var step: String?
    public var channel: String?
    public var template: String?
    /// Exact time the touch is due.
    public var at: Timestamp?
    public var line: Int

    public init(
        user: String? = nil, journey: String? = nil, step: String? = nil, channel: String? = nil,
        template: String? = nil, at: Timestamp? = nil, line: Int = 0
    ) {
        self.user = user
        self.journey = journey
        self.step = step
        self.channel = channel
        self.template = template
        self.at = at
        self.line = line
    }

    public var description: String {
        var parts: [String] = []
        if let user { parts.append("user: \(user)") }
        if let journey { parts.append("journey: \(journey)") }
        if let step { parts.append("step: \(step)") }
        if let channel { parts.append("channel: \(channel)") }
        if let template { parts.append("template: \(template)") }
        if let at { parts.append("at: \(at.iso8601)") }
        return "{" + parts.joined(separator: ", ") + "}"
    }
}

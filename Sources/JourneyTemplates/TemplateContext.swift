public import JourneyCore

/// What a template can see when it renders one touch.
///
/// | name | what |
/// |---|---|
/// | `user` | the user's merged traits, plus `user.id` |
/// | `event` | the event being handled, in Segment shape (`event.event` / `event.name`, `event.properties.…`, `event.timestamp`, …); null for timer-driven steps |
/// | `enrollment` | `id`, `key`, `entered_at`, `trigger` (the event that started it, Segment shape), `variant` |
/// | `journey` | `id`, `version` |
/// | `touch` | `id`, `channel`, `step` |
/// | `unsubscribe_url` | the link that unsubscribes this user from this channel (may be null) |
///
/// Dates passed through the `date` filter are shown in ``zone``, and `"now"` means ``now`` — the instant
/// the touch was due, so that replays and tests render the same text every time.
///
/// Templates compiled with ``TemplateScope/open`` also see every member of ``variables`` by its name,
/// as standard Liquid sees the data it renders with.
public struct TemplateContext: Sendable {
    /// The names a template can start a path from. Compilation resolves them to these cases.
    public enum Root: Int, Sendable, CaseIterable {
        case user, event, enrollment, journey, touch, unsubscribeURL

        /// The name templates use.
        public var name: String {
            switch self {
            case .user: return "user"
            case .event: return "event"
            case .enrollment: return "enrollment"
            case .journey: return "journey"
            case .touch: return "touch"
            case .unsubscribeURL: return "unsubscribe_url"
            }
        }

        /// The members each root is known to have, for compile-time warnings (nil: any member).
        var knownMembers: [String]? {
            switch self {
            case .user, .event, .unsubscribeURL: return nil
            case .enrollment: return ["id", "key", "entered_at", "trigger", "variant"]
            case .journey: return ["id", "version"]
            case .touch: return ["id", "channel", "step"]
            }
        }

        static let byName: [String: Root] = Dictionary(uniqueKeysWithValues: allCases.map { ($0.name, $0) })
    }

    /// Some of the roots: those a compiled template can read (``LiquidTemplate/roots``).
    public struct Roots: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public init(_ root: Root) { rawValue = 1 << root.rawValue }
        public static let all = Roots(rawValue: (1 << Root.allCases.count) - 1)
    }

    public var user: Value
    public var event: Value
    public var enrollment: Value
    public var journey: Value
    public var touch: Value
    public var unsubscribeURL: Value
    /// Top-level variables beyond the roots, for templates of ``TemplateScope/open`` scope.
    public var variables: [String: Value] = [:]
    /// The user's time zone, for the `date` filter.
    public var zone: Zone
    /// What `"now"` and `"today"` mean to the `date` filter.
    public var now: Timestamp

    /// A context from values already in shape. `user` gets an `id` member from `userID` unless it has one;
    /// `event` (Segment shape) gets a `name` member from `event` unless it has one.
    public init(
        user: Value = .emptyObject, userID: String? = nil, event: Value = .null, enrollment: Value = .null,
        journey: Value = .null, touch: Value = .null, unsubscribeURL: String? = nil, zone: Zone = .utc,
        now: Timestamp = Timestamp(milliseconds: 0)
    ) {
        var user = user
        if let userID, user["id"] == nil { user.set("id", to: .string(userID)) }
        self.user = user
        self.event = Self.segmentShape(event)
        self.enrollment = enrollment
        self.journey = journey
        self.touch = touch
        self.unsubscribeURL = unsubscribeURL.map(Value.string) ?? .null
        self.zone = zone
        self.now = now
    }

    /// A context of arbitrary top-level variables, as standard Liquid renders with: each member of
    /// `variables` is a variable of that name; `user`, `event`, `enrollment`, `journey`, `touch` and
    /// `unsubscribe_url` among them fill those roots as they are (nil when absent).
    public init(variables: [String: Value], zone: Zone = .utc, now: Timestamp = Timestamp(milliseconds: 0)) {
        self.user = variables["user"] ?? .null
        self.event = variables["event"] ?? .null
        self.enrollment = variables["enrollment"] ?? .null
        self.journey = variables["journey"] ?? .null
        self.touch = variables["touch"] ?? .null
        self.unsubscribeURL = variables["unsubscribe_url"] ?? .null
        self.variables = variables
        self.zone = zone
        self.now = now
    }

    /// The context for a touch as the engine produced it: what the daemon calls before rendering.
    ///
    /// - Parameters:
    ///   - touch: the touch (gives `touch.*`, `journey.*`, `user.id`, and ``now`` = `touch.at`).
    ///   - traits: the user's merged traits.
    ///   - event: the event being handled when the send step ran, if one was.
    ///   - enrollment: the user's enrollment in the touch's journey; by default the touch's ``Touch/origin``.
    ///   - zone: the user's zone (their `timezone` trait, else the configured default).
    ///   - roots: the roots to build (those the templates to render read); the others stay null. Building
    ///     `event` (the whole event as a value) and `enrollment` (dates as text, the trigger) for a template
    ///     that reads only `user.first_name` was half the cost of rendering a touch.
    public init(
        touch: Touch, traits: Value, event: Event? = nil, enrollment: Enrollment? = nil, zone: Zone,
        unsubscribeURL: String? = nil, reading roots: Roots = .all
    ) {
        func has(_ root: Root) -> Bool { roots.contains(Roots(root)) }
        self.init(
            user: has(.user) ? traits : .emptyObject, userID: has(.user) ? touch.user : nil,
            event: has(.event) ? event?.jsonValue ?? .null : .null,
            enrollment: has(.enrollment) ? Self.enrollmentValue(of: touch, enrollment) : .null,
            journey: has(.journey) ? ["id": .string(touch.journey), "version": .string(touch.version)] : .null,
            touch: has(.touch) ? ["id": .string(touch.id), "channel": .string(touch.channel), "step": .string(touch.step)] : .null,
            unsubscribeURL: unsubscribeURL, zone: zone, now: touch.at)
    }

    /// `enrollment.*` of a touch: its enrollment's, else the touch's ``Touch/origin``, else just the id.
    static func enrollmentValue(of touch: Touch, _ enrollment: Enrollment?) -> Value {
        if let enrollment {
            return [
                "id": .string(touch.enrollment), "key": .string(enrollment.key),
                "entered_at": .string(enrollment.enteredAt.iso8601), "trigger": Self.segmentShape(enrollment.trigger),
                "variant": enrollment.variant.map(Value.string) ?? .null,
            ]
        } else if let origin = touch.origin {
            return [
                "id": .string(touch.enrollment), "key": .string(origin.key),
                "entered_at": .string(origin.enteredAt.iso8601), "trigger": Self.segmentShape(origin.trigger),
                "variant": origin.variant.map(Value.string) ?? .null,
            ]
        }
        return ["id": .string(touch.enrollment)]
    }

    /// A Segment-shaped event object with a `name` member too (the track event's name), so that
    /// `event.name` reads in templates as it does in conditions.
    static func segmentShape(_ event: Value) -> Value {
        guard event["name"] == nil, let name = event["event"] else { return event }
        var shaped = event
        shaped.set("name", to: name)
        return shaped
    }

    @inline(__always)
    func value(of root: Root) -> Value {
        switch root {
        case .user: return user
        case .event: return event
        case .enrollment: return enrollment
        case .journey: return journey
        case .touch: return touch
        case .unsubscribeURL: return unsubscribeURL
        }
    }
}

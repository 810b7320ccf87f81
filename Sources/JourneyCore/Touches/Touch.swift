/// One personalized message a send step produced. Its ``id`` is stable: the same journey version,
/// enrollment, step and occurrence always give the same id, which is the idempotency key sent to
/// providers and what makes "no duplicate touch after a crash" checkable.
public struct Touch: Sendable, Hashable {
    public var id: String
    public var user: String
    public var journey: String
    public var version: String
    /// `user#seq`.
    public var enrollment: String
    public var step: String
    public var channel: String
    public var template: String
    /// When the touch was due (the engine's now at the send step).
    public var at: Timestamp
    public var transactional: Bool
    /// The enrollment as it was when the send step ran — what templates see as `enrollment.*` (it may
    /// have ended by the time the touch is rendered). Not part of the touch's identity.
    public var origin: Origin?

    /// The enrollment facts a template can use: `enrollment.key`, `entered_at`, `trigger`, `variant`.
    public struct Origin: Sendable, Hashable {
        public var key: String
        public var enteredAt: Timestamp
        public var trigger: Value
        public var variant: String?

        public init(key: String, enteredAt: Timestamp, trigger: Value, variant: String?) {
            self.key = key
            self.enteredAt = enteredAt
            self.trigger = trigger
            self.variant = variant
        }
    }

    public init(
        id: String, user: String, journey: String, version: String, enrollment: String, step: String,
        channel: String, template: String, at: Timestamp, transactional: Bool = false, origin: Origin? = nil
    ) {
        self.origin = origin
        self.id = id
        self.user = user
        self.journey = journey
        self.version = version
        self.enrollment = enrollment
        self.step = step
        self.channel = channel
        self.template = template
        self.at = at
        self.transactional = transactional
    }

    public static func == (a: Touch, b: Touch) -> Bool {
        a.id == b.id && a.user == b.user && a.journey == b.journey && a.version == b.version && a.enrollment == b.enrollment
            && a.step == b.step && a.channel == b.channel && a.template == b.template && a.at == b.at
            && a.transactional == b.transactional
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(id) }

    /// touch_id = hash(journey, version, enrollment, step, occurrence) — DESIGN §5.
    public static func makeID(journey: String, version: String, user: String, enrollment: UInt64, step: String, occurrence: UInt32) -> String {
        var h = StableHash()
        h.combine(journey)
        h.combine(version)
        h.combine(user)
        h.combine(enrollment)
        h.combine(step)
        h.combine(UInt64(occurrence))
        return h.hex
    }

    /// One JSON object per touch, keys in a fixed order: the line format of `replay` and the `file` channel.
    public func writeJSONLine(into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        JSONWriter.writeKey("touch_id", first: true, into: &out)
        JSONWriter.writeString(id, into: &out)
        JSONWriter.writeKey("at", into: &out)
        out.append(UInt8(ascii: "\""))
        at.writeISO8601(into: &out)
        out.append(UInt8(ascii: "\""))
        func field(_ key: StaticString, _ value: String) {
            out.append(UInt8(ascii: ","))
            key.withUTF8Buffer { out.append(contentsOf: $0) }
            JSONWriter.writeString(value, into: &out)
        }
        field("\"user\":", user)
        field("\"journey\":", journey)
        field("\"version\":", version)
        field("\"enrollment\":", enrollment)
        field("\"step\":", step)
        field("\"channel\":", channel)
        field("\"template\":", template)
        if transactional {
            JSONWriter.writeKey("transactional", into: &out)
            out.append(contentsOf: "true".utf8)
        }
        out.append(contentsOf: "}\n".utf8)
    }
}

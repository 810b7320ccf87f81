/// One personalized message a send step produced. Its ``id`` is stable: the same journey version,
/// enrollment, step and occurrence always give the same id, which is the idempotency key sent to
/// providers and what makes "no duplicate touch after a crash" checkable.
public struct Touch: Sendable, Hashable {
    /// The fields, shared by copies until one is changed: a touch is copied from the engine's effects
    /// into the outbox, staged, handed to the dispatcher, kept while in flight and checkpointed — eleven
    /// reference-counted fields a copy each time, the largest share of the daemon's per-touch work.
    private final class Storage: @unchecked Sendable {
        var id: String
        var user: String
        var journey: String
        var version: String
        var enrollment: String
        var step: String
        var channel: String
        var template: String
        var at: Timestamp
        var transactional: Bool
        var origin: Origin?

        init(
            id: String, user: String, journey: String, version: String, enrollment: String, step: String, channel: String,
            template: String, at: Timestamp, transactional: Bool, origin: Origin?
        ) {
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
            self.origin = origin
        }

        func copy() -> Storage {
            Storage(
                id: id, user: user, journey: journey, version: version, enrollment: enrollment, step: step, channel: channel,
                template: template, at: at, transactional: transactional, origin: origin)
        }
    }

    private var storage: Storage

    /// Changes a field: in place when this copy alone holds the storage, else in a copy of its own.
    private mutating func update(_ change: (Storage) -> Void) {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        change(storage)
    }

    public var id: String {
        get { storage.id }
        set { update { $0.id = newValue } }
    }
    public var user: String {
        get { storage.user }
        set { update { $0.user = newValue } }
    }
    public var journey: String {
        get { storage.journey }
        set { update { $0.journey = newValue } }
    }
    public var version: String {
        get { storage.version }
        set { update { $0.version = newValue } }
    }
    /// `user#seq`.
    public var enrollment: String {
        get { storage.enrollment }
        set { update { $0.enrollment = newValue } }
    }
    public var step: String {
        get { storage.step }
        set { update { $0.step = newValue } }
    }
    public var channel: String {
        get { storage.channel }
        set { update { $0.channel = newValue } }
    }
    public var template: String {
        get { storage.template }
        set { update { $0.template = newValue } }
    }
    /// When the touch was due (the engine's now at the send step).
    public var at: Timestamp {
        get { storage.at }
        set { update { $0.at = newValue } }
    }
    public var transactional: Bool {
        get { storage.transactional }
        set { update { $0.transactional = newValue } }
    }
    /// The enrollment as it was when the send step ran — what templates see as `enrollment.*` (it may
    /// have ended by the time the touch is rendered). Not part of the touch's identity.
    public var origin: Origin? {
        get { storage.origin }
        set { update { $0.origin = newValue } }
    }

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
        storage = Storage(
            id: id, user: user, journey: journey, version: version, enrollment: enrollment, step: step, channel: channel,
            template: template, at: at, transactional: transactional, origin: origin)
    }

    public static func == (a: Touch, b: Touch) -> Bool {
        if a.storage === b.storage { return true }
        return a.id == b.id && a.user == b.user && a.journey == b.journey && a.version == b.version && a.enrollment == b.enrollment
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

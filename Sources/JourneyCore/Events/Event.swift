/// One message about a user in the shape of the Segment Spec
/// (track, identify, page, screen, group, alias).
///
/// Only what journeys read is lifted into fields; `context` and other top-level members are kept in
/// ``extra`` so nothing the producer sent is lost.
public struct Event: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case track, identify, page, screen, group, alias
    }

    /// The fields live in one copy-on-write box: events are passed around and batched by the million, and
    /// copying a box is one reference count where copying eleven fields would be a dozen.
    private final class Storage: @unchecked Sendable {
        var kind: Kind
        var userId: String
        var anonymousId: String?
        var messageId: String
        var timestamp: Timestamp
        var name: String
        var properties: Value
        var traits: Value
        var groupId: String?
        var previousId: String?
        var extra: Value

        init(kind: Kind, userId: String, anonymousId: String?, messageId: String, timestamp: Timestamp, name: String, properties: Value, traits: Value, groupId: String?, previousId: String?, extra: Value) {
            self.kind = kind
            self.userId = userId
            self.anonymousId = anonymousId
            self.messageId = messageId
            self.timestamp = timestamp
            self.name = name
            self.properties = properties
            self.traits = traits
            self.groupId = groupId
            self.previousId = previousId
            self.extra = extra
        }

        func copy() -> Storage {
            Storage(kind: kind, userId: userId, anonymousId: anonymousId, messageId: messageId, timestamp: timestamp, name: name, properties: properties, traits: traits, groupId: groupId, previousId: previousId, extra: extra)
        }
    }

    private var storage: Storage

    public var kind: Kind {
        get { storage.kind }
        set {
            if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
            storage.kind = newValue
        }
    }
    /// `userId`, or `anonymousId` when there is no `userId`. Never empty.
    public var userId: String {
        get { storage.userId }
        set {
            if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
            storage.userId = newValue
        }
    }
    public var anonymousId: String? {
        get { storage.anonymousId }
        set {
            if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
            storage.anonymousId = newValue
        }
    }
    /// Deduplication key (Segment `messageId`).
    public var messageId: String {
        get { storage.messageId }
        set {
            if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
            storage.messageId = newValue
        }
    }
    public var timestamp: Timestamp {
        get { storage.timestamp }
        set {
            if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
            storage.timestamp = newValue
        }
    }
    /// `event` for track; `name` for page and screen; empty otherwise.
    public var name: String {
        get { storage.name }
        set {
            if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
            storage.name = newValue
        }
    }
    /// `properties` (track, page, screen), an object (possibly empty).
    public var properties: Value {
        get { storage.properties }
        set {
            if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
            storage.properties = newValue
        }
    }
    /// `traits` for identify and group, else `context.traits` as RudderStack sends them; an object.
    public var traits: Value {
        get { storage.traits }
        set {
            if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
            storage.traits = newValue
        }
    }
    /// `groupId` for group; `previousId` for alias.
    public var groupId: String? {
        get { storage.groupId }
        set {
            if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
            storage.groupId = newValue
        }
    }
    public var previousId: String? {
        get { storage.previousId }
        set {
            if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
            storage.previousId = newValue
        }
    }
    /// `context` and any other members, in the order received.
    public var extra: Value {
        get { storage.extra }
        set {
            if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
            storage.extra = newValue
        }
    }

    public init(
        kind: Kind,
        userId: String,
        anonymousId: String? = nil,
        messageId: String,
        timestamp: Timestamp,
        name: String = "",
        properties: Value = .emptyObject,
        traits: Value = .emptyObject,
        groupId: String? = nil,
        previousId: String? = nil,
        extra: Value = .emptyObject
    ) {
        storage = Storage(
            kind: kind, userId: userId, anonymousId: anonymousId, messageId: messageId, timestamp: timestamp,
            name: name, properties: properties, traits: traits, groupId: groupId, previousId: previousId, extra: extra)
    }

    public static func == (a: Event, b: Event) -> Bool {
        if a.storage === b.storage { return true }
        return a.kind == b.kind && a.userId == b.userId && a.anonymousId == b.anonymousId && a.messageId == b.messageId
            && a.timestamp == b.timestamp && a.name == b.name && a.properties == b.properties && a.traits == b.traits
            && a.groupId == b.groupId && a.previousId == b.previousId && a.extra == b.extra
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
        hasher.combine(userId)
        hasher.combine(messageId)
        hasher.combine(timestamp)
        hasher.combine(name)
    }

    /// Convenience for tests and generators: a `track` event.
    public static func track(
        _ name: String,
        user: String,
        at timestamp: Timestamp,
        properties: Value = .emptyObject,
        messageId: String? = nil
    ) -> Event {
        Event(
            kind: .track,
            userId: user,
            messageId: messageId ?? "\(user)-\(name)-\(timestamp.milliseconds)",
            timestamp: timestamp,
            name: name,
            properties: properties
        )
    }

    /// Convenience for tests and generators: an `identify` event.
    public static func identify(
        user: String,
        at timestamp: Timestamp,
        traits: Value,
        messageId: String? = nil
    ) -> Event {
        Event(
            kind: .identify,
            userId: user,
            messageId: messageId ?? "\(user)-identify-\(timestamp.milliseconds)",
            timestamp: timestamp,
            traits: traits
        )
    }

    /// The event as a Segment-spec JSON object (for replay output, quarantine and tests).
    public var jsonValue: Value {
        var members: [Value.Member] = [Value.Member("type", .string(kind.rawValue))]
        members.append(Value.Member("userId", .string(userId)))
        if let anonymousId { members.append(Value.Member("anonymousId", .string(anonymousId))) }
        members.append(Value.Member("messageId", .string(messageId)))
        members.append(Value.Member("timestamp", .string(timestamp.iso8601)))
        switch kind {
        case .track: members.append(Value.Member("event", .string(name)))
        case .page, .screen: if !name.isEmpty { members.append(Value.Member("name", .string(name))) }
        default: break
        }
        if kind != .identify && kind != .group && kind != .alias {
            members.append(Value.Member("properties", properties))
        }
        if kind == .identify || kind == .group { members.append(Value.Member("traits", traits)) }
        if let groupId { members.append(Value.Member("groupId", .string(groupId))) }
        if let previousId { members.append(Value.Member("previousId", .string(previousId))) }
        if case .object(let more) = extra { members.append(contentsOf: more) }
        return .object(members)
    }
}

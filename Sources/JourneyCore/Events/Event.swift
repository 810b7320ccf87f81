/// One message about a user in the shape of the Segment Spec
/// (track, identify, page, screen, group, alias).
///
/// Only what journeys read is lifted into fields; `context` and other top-level members are kept in
/// ``extra`` so nothing the producer sent is lost.
public struct Event: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case track, identify, page, screen, group, alias
    }

    public var kind: Kind
    /// `userId`, or `anonymousId` when there is no `userId`. Never empty.
    public var userId: String
    public var anonymousId: String?
    /// Deduplication key (Segment `messageId`).
    public var messageId: String
    public var timestamp: Timestamp
    /// `event` for track; `name` for page and screen; empty otherwise.
    public var name: String
    /// `properties` (track, page, screen), an object (possibly empty).
    public var properties: Value
    /// `traits` for identify and group, else `context.traits` as RudderStack sends them; an object.
    public var traits: Value
    /// `groupId` for group; `previousId` for alias.
    public var groupId: String?
    public var previousId: String?
    /// `context` and any other members, in the order received.
    public var extra: Value

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

/// What a provider said about a touch's recipient that outlasts the touch: the user refused the channel,
/// or the device the touch was addressed to is gone. An adapter puts it at the start of the dead letter's
/// reason (``reasonPrefix``); the daemon reads it back (``init(reason:)``) when it records the dead letter
/// and changes the user accordingly. The event log keeps reasons, so a replay changes the user the same way.
public enum RecipientFeedback: Sendable, Hashable {
    /// The user has not consented to messages on this channel (WeChat 43101 "user refuse to accept the
    /// msg", 43004 "require subscribe"): the channel's name joins the user's `unsubscribed` trait, which
    /// the consent check reads (a `subscribed` event with the channel, or the app, reopens it).
    case consentRefused
    /// The device token in the user's trait `trait` is no longer registered (FCM `UNREGISTERED`): the trait
    /// is removed, so no touch is addressed to that device again (the app sets a new token when reinstalled).
    case deviceTokenUnregistered(trait: String)

    /// How a dead letter's reason starts when it carries this feedback.
    public var reasonPrefix: String {
        switch self {
        case .consentRefused: return "consent refused: "
        case .deviceTokenUnregistered(let trait): return "unregistered device token (trait \(trait)): "
        }
    }

    /// The feedback a dead letter's reason carries, if any.
    public init?(reason: String) {
        if reason.hasPrefix("consent refused: ") {
            self = .consentRefused
        } else if reason.hasPrefix("unregistered device token (trait "), let close = reason.firstIndex(of: ")") {
            let start = reason.index(reason.startIndex, offsetBy: "unregistered device token (trait ".count)
            guard start < close else { return nil }
            self = .deviceTokenUnregistered(trait: String(reason[start..<close]))
        } else {
            return nil
        }
    }
}

extension UserState {
    /// The channels (names or types) the user closed through the `unsubscribed` trait: `true` or `"all"`
    /// is `["all"]`, a text one channel, a list several.
    public var unsubscribedChannels: [String] {
        switch traits["unsubscribed"] {
        case .bool(true)?: return ["all"]
        case .string(let c)?: return [c]
        case .array(let items)?: return items.compactMap(\.stringValue)
        default: return []
        }
    }

    /// Sets the `unsubscribed` trait to `channels` (removed when empty); whether it changed.
    @discardableResult
    public mutating func setUnsubscribedChannels(_ channels: [String]) -> Bool {
        let old = traits["unsubscribed"] ?? .null
        let new: Value = channels.isEmpty ? .null : .array(channels.map(Value.string))
        guard new != old else { return false }
        if new.isNull { traits.remove("unsubscribed") } else { traits.set("unsubscribed", to: new) }
        return true
    }
}

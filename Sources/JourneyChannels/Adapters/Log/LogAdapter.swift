import JourneyCore
import Logging

/// The dry-run channel: each touch becomes one log line (journald under systemd) with the touch's
/// identity as metadata, and nothing is sent anywhere.
///
/// Options (all optional):
/// - `level` (`debug`, `info`, `notice`; default `info`)
/// - `content` (bool, default false): add the rendered subject and text to the line's metadata
/// - `user_id` (`plain` or `hash`; default `plain`): `hash` logs a stable hash instead of the user id
public struct LogAdapter: ConfigurableChannelAdapter {
    public struct Configuration: Sendable {
        public var level: Logger.Level = .info
        public var content = false
        public var hashUserID = false
    }

    public static let type = "log"
    public static let defaultPolicy = ChannelPolicy(concurrency: 64)

    public let name: String
    public var acceptsIdempotencyKeys: Bool { false }
    private let configuration: Configuration
    private let logger: Logger

    public static func configure(_ options: ChannelOptions) -> Configuration? {
        var configuration = Configuration()
        switch options.choice("level", ["debug", "info", "notice"], default: "info") {
        case "debug": configuration.level = .debug
        case "notice": configuration.level = .notice
        default: configuration.level = .info
        }
        configuration.content = options.bool("content", default: false)
        configuration.hashUserID = options.choice("user_id", ["plain", "hash"], default: "plain") == "hash"
        return configuration
    }

    public init(name: String, configuration: Configuration, context: ChannelContext) {
        self.name = name
        self.configuration = configuration
        self.logger = context.logger
    }

    /// A batch is one log line per touch, written in one call: no task per touch.
    public var deliversBatches: Bool { true }

    public func deliver(_ message: OutboundMessage) async -> DeliveryResult {
        if Task.isCancelled { return .retry(after: nil, reason: "cancelled") }
        let touch = message.touch
        var metadata: Logger.Metadata = [
            "touch.id": .string(touch.id), "journey": .string(touch.journey), "journey.version": .string(touch.version),
            "step": .string(touch.step), "channel": .string(name), "template": .string(touch.template),
            "user.id": .string(configuration.hashUserID ? StableHash.of("user", touch.user).hex : touch.user),
            "outcome": "sent",
        ]
        if touch.transactional { metadata["transactional"] = "true" }
        if configuration.content {
            if let subject = message.subject { metadata["subject"] = .string(subject) }
            metadata["text"] = .string(message.text)
        }
        logger.log(level: configuration.level, "touch \(touch.id) sent through \(name) (dry run)", metadata: metadata)
        return .sent(providerMessageID: nil)
    }
}

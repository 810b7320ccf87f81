/// One thing wrong with a channel's definition, with the key path that points at it:
/// `channels[2].url: must be https unless allow_private is true`. Never contains a secret's value.
public struct ChannelProblem: Error, Sendable, Hashable, CustomStringConvertible {
    /// The channel's name (empty when the definition has none).
    public var channel: String
    /// The full key path: `channels[2].url`.
    public var path: String
    public var message: String

    public init(channel: String, path: String, message: String) {
        self.channel = channel
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

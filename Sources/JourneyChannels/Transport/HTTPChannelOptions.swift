import Foundation
import JourneyCore

/// The options every HTTP channel (webhook, sms, wecom, dingtalk, feishu, slack) accepts:
/// - `allow_private` (bool, default false): allow loopback and private destination addresses (and plain
///   `http`). Without it, only public addresses over `https` are reached.
/// - `timeout` (default 15s): the whole exchange, from connecting to the end of the response.
public struct HTTPChannelOptions: Sendable {
    public var allowPrivate: Bool
    public var timeout: TimeSpan

    /// The longest `timeout` a channel may set.
    static let longestTimeout = TimeSpan.minutes(5)

    init(_ options: ChannelOptions, defaultTimeout: TimeSpan = .seconds(15)) {
        allowPrivate = options.bool("allow_private", default: false)
        timeout = options.duration("timeout", default: defaultTimeout, range: .milliseconds(100)...Self.longestTimeout)
    }

    /// Checks that `url` is https unless `allow_private` is set.
    func check(_ url: URL?, key: String, in options: ChannelOptions) {
        guard let url, url.scheme?.lowercased() == "http", !allowPrivate else { return }
        options.problem(key, "must be https unless allow_private is true")
    }

    /// A base URL option (`base_url`), without a trailing slash.
    static func baseURL(_ options: ChannelOptions, default fallback: String, http: HTTPChannelOptions) -> String? {
        guard options.has("base_url") else { return fallback }
        guard let url = options.url("base_url") else { return nil }
        http.check(url, key: "base_url", in: options)
        guard url.query == nil, url.fragment == nil else {
            options.problem("base_url", "must not have a query or fragment")
            return nil
        }
        var text = url.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }
}

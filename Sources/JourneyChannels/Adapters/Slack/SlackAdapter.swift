import Foundation
import JourneyCore

/// Posts `{"text": …}` to a Slack incoming webhook. The webhook URL is the credential, so it is a secret
/// option:
///
/// ```yaml
/// - name: team
///   type: slack
///   url_credential: slack-webhook      # or url_file: PATH; the file holds https://hooks.slack.com/services/…
///   timeout: 15s
/// ```
///
/// Success is 200 with the body `ok`. Slack's 404 (`channel_not_found`), 410 (`channel_is_archived`) and
/// 403 (`action_prohibited`, `invalid_token`) disable the channel; 429 throttles it; other statuses use
/// the generic table. Default rate limit: 1 per second, bursts of 3.
public struct SlackAdapter: ConfigurableChannelAdapter {
    public struct Configuration: Sendable {
        var url: Secret
        public var http: HTTPChannelOptions
    }

    public static let type = "slack"
    public static let defaultPolicy = ChannelPolicy(rateLimits: [RateLimit(count: 1, per: .seconds(1), burst: 3)], concurrency: 2)

    public let name: String
    public var acceptsIdempotencyKeys: Bool { false }
    private let configuration: Configuration
    private let transport: HTTPTransport

    public static func configure(_ options: ChannelOptions) -> Configuration? {
        let http = HTTPChannelOptions(options)
        guard let url = options.secret("url", required: true) else { return nil }
        if options.context.readSecrets {
            let key = options.has("url_file") ? "url_file" : "url_credential"
            guard let parsed = options.checkedURL(url.reveal, key: key, shown: nil) else { return nil }
            http.check(parsed, key: key, in: options)
        }
        return Configuration(url: url, http: http)
    }

    public init(name: String, configuration: Configuration, context: ChannelContext) {
        self.name = name
        self.configuration = configuration
        self.transport = context.transport(allowPrivate: configuration.http.allowPrivate)
    }

    public func deliver(_ message: OutboundMessage) async -> DeliveryResult {
        let body = Array(Value.object([.init("text", .string(message.text))]).jsonText.utf8)
        let exchange = await transport.post(
            configuration.url.reveal, headers: [("Content-Type", "application/json; charset=utf-8")], body: body,
            timeout: configuration.http.timeout, redacting: configuration.url.urlParts())
        return Self.classify(exchange).redacting(configuration.url.urlParts())
    }

    static func classify(_ exchange: HTTPExchange) -> DeliveryResult {
        switch exchange {
        case .failed(let outcome):
            return outcome.classification
        case .response(let response):
            switch response.status {
            case 200:
                if response.body.trimmingCharacters(in: .whitespacesAndNewlines) == "ok" { return .sent(providerMessageID: nil) }
                return .deadLetter(reason: "HTTP 200 without \"ok\": \(response.excerpt)")
            case 403, 404, 410:
                return .disable(reason: response.outcome.description)
            default:
                return response.outcome.classification
            }
        }
    }
}

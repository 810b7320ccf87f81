import Foundation
import JourneyCore

/// Sends text or markdown through a DingTalk (钉钉) custom robot, signed (加签) when it has a secret:
/// `POST {base_url}/robot/send?access_token=T&timestamp=<ms>&sign=<urlencoded base64 HMAC-SHA256>`.
///
/// ```yaml
/// - name: sales
///   type: dingtalk
///   access_token_credential: dingtalk-token    # or access_token_file: PATH
///   secret_credential: dingtalk-secret         # the robot's SEC… signing secret; optional
///   format: text                               # text (default) | markdown (title: the subject)
///   at_mobiles: ["13800000000"]
///   at_all: false
///   base_url: https://oapi.dingtalk.com
/// ```
///
/// DingTalk answers HTTP 200 with `{"errcode":0,"errmsg":"ok"}`. errcode 130101 ("send too fast") means
/// the robot is locked for 10 minutes: the channel holds for 10 minutes. 310000 (signature, keyword or IP
/// check failed) and 300001 (unknown token) disable the channel; other codes dead-letter the touch.
/// Default rate limit: 20 per minute, hard (an overrun costs 10 minutes).
public struct DingTalkAdapter: ConfigurableChannelAdapter {
    public struct Configuration: Sendable {
        var accessToken: Secret
        var secret: Secret?
        public var baseURL: String
        public var markdown: Bool
        public var atMobiles: [String]
        public var atAll: Bool
        public var http: HTTPChannelOptions
    }

    public static let type = "dingtalk"
    public static let defaultPolicy = ChannelPolicy(rateLimits: [RateLimit(count: 20, per: .minutes(1))], concurrency: 2)

    public let name: String
    public var acceptsIdempotencyKeys: Bool { false }
    private let configuration: Configuration
    private let transport: HTTPTransport
    private let clock: @Sendable () -> Date

    public static func configure(_ options: ChannelOptions) -> Configuration? {
        let http = HTTPChannelOptions(options)
        let token = options.secret("access_token", required: true)
        let secret = options.secret("secret", required: false)
        let base = HTTPChannelOptions.baseURL(options, default: "https://oapi.dingtalk.com", http: http)
        let markdown = options.choice("format", ["text", "markdown"], default: "text") == "markdown"
        let mobiles = options.strings("at_mobiles") ?? []
        let atAll = options.bool("at_all", default: false)
        guard let token, let base else { return nil }
        return Configuration(accessToken: token, secret: secret, baseURL: base, markdown: markdown, atMobiles: mobiles, atAll: atAll, http: http)
    }

    public init(name: String, configuration: Configuration, context: ChannelContext) {
        self.init(name: name, configuration: configuration, context: context, clock: { Date() })
    }

    init(name: String, configuration: Configuration, context: ChannelContext, clock: @escaping @Sendable () -> Date) {
        self.name = name
        self.configuration = configuration
        self.transport = context.transport(allowPrivate: configuration.http.allowPrivate)
        self.clock = clock
    }

    public func deliver(_ message: OutboundMessage) async -> DeliveryResult {
        var body: Value
        if configuration.markdown {
            let title = message.subject ?? message.text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            body = ["msgtype": "markdown", "markdown": ["title": .string(title), "text": .string(message.text)]]
        } else {
            body = ["msgtype": "text", "text": ["content": .string(message.text)]]
        }
        if configuration.atAll || !configuration.atMobiles.isEmpty {
            body.set("at", to: ["atMobiles": .array(configuration.atMobiles.map(Value.string)), "isAtAll": .bool(configuration.atAll)])
        }
        let secrets = [configuration.accessToken] + (configuration.secret.map { [$0] } ?? [])
        var url = "\(configuration.baseURL)/robot/send?access_token=\(Signatures.urlEncoded(configuration.accessToken.reveal))"
        if let secret = configuration.secret {
            let timestamp = Int64(clock().timeIntervalSince1970 * 1000)
            let sign = Signatures.dingTalk(secret: secret.reveal, timestampMilliseconds: timestamp)
            url += "&timestamp=\(timestamp)&sign=\(Signatures.urlEncoded(sign))"
        }
        let exchange = await transport.post(
            url, headers: [("Content-Type", "application/json; charset=utf-8")], body: Array(body.jsonText.utf8),
            timeout: configuration.http.timeout, redacting: secrets)
        return Self.classify(exchange).redacting(secrets)
    }

    static func classify(_ exchange: HTTPExchange) -> DeliveryResult {
        switch exchange {
        case .failed(let outcome):
            return outcome.classification
        case .response(let response):
            return response.robotResult { answer in
                switch answer.code {
                case 130101: return .throttle(for: .minutes(10), reason: "DingTalk \(answer.detail)")
                case 310000, 300001: return .disable(reason: "DingTalk \(answer.detail)")
                default: return .deadLetter(reason: "DingTalk \(answer.detail)")
                }
            }
        }
    }
}

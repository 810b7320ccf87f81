import Foundation
import JourneyCore

/// Sends text or markdown through a WeCom (企业微信) group robot:
/// `POST {base_url}/cgi-bin/webhook/send?key=KEY`.
///
/// ```yaml
/// - name: ops
///   type: wecom
///   key_credential: wecom-robot-key     # or key_file: PATH; the robot's key is its credential
///   format: text                        # text (default) | markdown
///   mentioned_list: ["@all"]            # text only
///   mentioned_mobile_list: ["13800000000"]
///   base_url: https://qyapi.weixin.qq.com
/// ```
///
/// WeCom answers HTTP 200 with `{"errcode":0,"errmsg":"ok"}`; errcode 45009 (rate limit) throttles the
/// channel for a minute, 93000 (invalid webhook key) disables it, other codes dead-letter the touch.
/// Texts over WeCom's limits (2048 bytes, markdown 4096) are cut at a character boundary with "…".
/// Default rate limit: 20 per minute, hard.
public struct WeComAdapter: ConfigurableChannelAdapter {
    public struct Configuration: Sendable {
        var key: Secret
        public var baseURL: String
        public var markdown: Bool
        public var mentionedList: [String]
        public var mentionedMobileList: [String]
        public var http: HTTPChannelOptions
    }

    public static let type = "wecom"
    public static let defaultPolicy = ChannelPolicy(rateLimits: [RateLimit(count: 20, per: .minutes(1))], concurrency: 2)

    public let name: String
    public var acceptsIdempotencyKeys: Bool { false }
    private let configuration: Configuration
    private let transport: HTTPTransport

    public static func configure(_ options: ChannelOptions) -> Configuration? {
        let http = HTTPChannelOptions(options)
        let key = options.secret("key", required: true)
        let base = HTTPChannelOptions.baseURL(options, default: "https://qyapi.weixin.qq.com", http: http)
        let markdown = options.choice("format", ["text", "markdown"], default: "text") == "markdown"
        let mentioned = options.strings("mentioned_list") ?? []
        let mobiles = options.strings("mentioned_mobile_list") ?? []
        if markdown && !(mentioned.isEmpty && mobiles.isEmpty) {
            options.problem("format", "WeCom markdown messages cannot mention people; mentions need format: text")
        }
        guard let key, let base else { return nil }
        return Configuration(key: key, baseURL: base, markdown: markdown, mentionedList: mentioned, mentionedMobileList: mobiles, http: http)
    }

    public init(name: String, configuration: Configuration, context: ChannelContext) {
        self.name = name
        self.configuration = configuration
        self.transport = context.transport(allowPrivate: configuration.http.allowPrivate)
    }

    public func deliver(_ message: OutboundMessage) async -> DeliveryResult {
        let body: Value
        if configuration.markdown {
            body = ["msgtype": "markdown", "markdown": ["content": .string(message.text.truncatedUTF8(maxBytes: 4096))]]
        } else {
            var text: Value = ["content": .string(message.text.truncatedUTF8(maxBytes: 2048))]
            if !configuration.mentionedList.isEmpty { text.set("mentioned_list", to: .array(configuration.mentionedList.map(Value.string))) }
            if !configuration.mentionedMobileList.isEmpty {
                text.set("mentioned_mobile_list", to: .array(configuration.mentionedMobileList.map(Value.string)))
            }
            body = ["msgtype": "text", "text": text]
        }
        let url = "\(configuration.baseURL)/cgi-bin/webhook/send?key=\(Signatures.urlEncoded(configuration.key.reveal))"
        let exchange = await transport.post(
            url, headers: [("Content-Type", "application/json; charset=utf-8")], body: Array(body.jsonText.utf8),
            timeout: configuration.http.timeout, redacting: [configuration.key])
        return Self.classify(exchange).redacting([configuration.key])
    }

    static func classify(_ exchange: HTTPExchange) -> DeliveryResult {
        switch exchange {
        case .failed(let outcome):
            return outcome.classification
        case .response(let response):
            return response.robotResult { answer in
                switch answer.code {
                case 45009: return .throttle(for: .minutes(1), reason: "WeCom \(answer.detail)")
                case 93000: return .disable(reason: "WeCom \(answer.detail)")
                default: return .deadLetter(reason: "WeCom \(answer.detail)")
                }
            }
        }
    }
}

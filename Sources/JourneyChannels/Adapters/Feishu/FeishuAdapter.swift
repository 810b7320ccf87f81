import Foundation
import JourneyCore

/// Sends text through a Feishu / Lark custom bot, signed when it has a secret:
/// `POST {base_url}/open-apis/bot/v2/hook/<token>` with
/// `{"timestamp":"<s>","sign":"<base64 HMAC-SHA256>","msg_type":"text","content":{"text":…}}`.
///
/// ```yaml
/// - name: product
///   type: feishu
///   token_credential: feishu-hook        # or token_file: PATH; the id at the end of the hook URL
///   secret_credential: feishu-secret     # signing secret; optional
///   base_url: https://open.feishu.cn     # https://open.larksuite.com for Lark
/// ```
///
/// Feishu answers HTTP 200 with `{"code":0,…}` (older bots: `{"StatusCode":0,…}`). Code 11232 (rate
/// limited) throttles the channel; 19021 (bad signature), 19022 (IP not allowed) and 19024 (keyword
/// check failed) disable it; other codes dead-letter the touch. Texts are cut to 18 KB (the body limit is
/// 20 KB). Default rate limits: 5 per second and 100 per minute, hard.
public struct FeishuAdapter: ConfigurableChannelAdapter {
    public struct Configuration: Sendable {
        var token: Secret
        var secret: Secret?
        public var baseURL: String
        public var http: HTTPChannelOptions
    }

    public static let type = "feishu"
    public static let defaultPolicy = ChannelPolicy(
        rateLimits: [RateLimit(count: 5, per: .seconds(1)), RateLimit(count: 100, per: .minutes(1))], concurrency: 2)

    public let name: String
    public var acceptsIdempotencyKeys: Bool { false }
    private let configuration: Configuration
    private let transport: HTTPTransport
    private let clock: @Sendable () -> Date

    public static func configure(_ options: ChannelOptions) -> Configuration? {
        let http = HTTPChannelOptions(options)
        let token = options.secret("token", required: true)
        let secret = options.secret("secret", required: false)
        let base = HTTPChannelOptions.baseURL(options, default: "https://open.feishu.cn", http: http)
        if let token, options.context.readSecrets, token.reveal.contains("/") {
            options.problem(options.has("token_file") ? "token_file" : "token_credential", "the token is the last part of the hook URL, without \"/\"")
        }
        guard let token, let base else { return nil }
        return Configuration(token: token, secret: secret, baseURL: base, http: http)
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
        var members: [Value.Member] = []
        if let secret = configuration.secret {
            let timestamp = Int64(clock().timeIntervalSince1970)
            members.append(.init("timestamp", .string(String(timestamp))))
            members.append(.init("sign", .string(Signatures.feishu(secret: secret.reveal, timestampSeconds: timestamp))))
        }
        members.append(.init("msg_type", "text"))
        members.append(.init("content", ["text": .string(message.text.truncatedUTF8(maxBytes: 18 * 1024))]))
        let secrets = [configuration.token] + (configuration.secret.map { [$0] } ?? [])
        let url = "\(configuration.baseURL)/open-apis/bot/v2/hook/\(Signatures.urlEncoded(configuration.token.reveal))"
        let exchange = await transport.post(
            url, headers: [("Content-Type", "application/json; charset=utf-8")], body: Array(Value.object(members).jsonText.utf8),
            timeout: configuration.http.timeout, redacting: secrets)
        return Self.classify(exchange).redacting(secrets)
    }

    static func classify(_ exchange: HTTPExchange) -> DeliveryResult {
        switch exchange {
        case .failed(let outcome):
            return outcome.classification
        case .response(let response):
            return response.robotResult(codeKeys: ["code", "StatusCode"], messageKeys: ["msg", "StatusMessage"]) { answer in
                switch answer.code {
                case 11232: return .throttle(for: nil, reason: "Feishu \(answer.detail)")
                case 19021, 19022, 19024: return .disable(reason: "Feishu \(answer.detail)")
                default: return .deadLetter(reason: "Feishu \(answer.detail)")
                }
            }
        }
    }
}

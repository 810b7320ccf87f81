import Foundation
import JourneyCore

/// Sends WeChat Mini Program subscribe messages (小程序订阅消息): `POST
/// {base_url}/cgi-bin/message/subscribe/send?access_token=…`, with the token handling of
/// ``WeChatClient`` (cached, shared, refreshed once on 40001/42001).
///
/// ```yaml
/// - name: wechat_mini
///   type: wechat_subscribe
///   app_id: wx89abcdef01234567
///   app_secret_credential: mini-secret     # or app_secret_file: PATH
///   template_id: 9Vm8tSqIAbdSYBnhwXC4cWi8zKbM_UVfiK5oX7YC7jg
///   page: pages/order/index?from=journey   # optional: the page the card opens
///   state: formal                          # formal (default) | trial | developer
///   lang: zh_CN                            # zh_CN (default) | en_US | zh_HK | zh_TW
///   openid_trait: miniprogram_openid       # default miniprogram_openid
///   base_url: https://api.weixin.qq.com
/// ```
///
/// The template renders the `data` fields as `name: value` lines (`thing1: …`, `time2: …`). A user who
/// refused the template or used up the one-time permission (43101) is dead-lettered as
/// ``RecipientFeedback/consentRefused``: retrying can never help, and the daemon records the refusal on
/// the user (the channel joins their `unsubscribed` trait).
public struct WeChatSubscribeAdapter: ConfigurableChannelAdapter {
    public struct Configuration: Sendable {
        public var appID: String
        var appSecret: Secret
        public var templateID: String
        public var page: String?
        public var state: String
        public var lang: String
        public var openIDTrait: String
        public var baseURL: String
        public var http: HTTPChannelOptions
    }

    public static let type = "wechat_subscribe"
    public static let defaultPolicy = ChannelPolicy(concurrency: 8)

    public let name: String
    public var acceptsIdempotencyKeys: Bool { false }
    private let configuration: Configuration
    let client: WeChatClient

    public static func configure(_ options: ChannelOptions) -> Configuration? {
        let shared = WeChatClient.options(options)
        let templateID = options.string("template_id", required: true)
        let page = options.string("page")
        let state = options.choice("state", ["formal", "trial", "developer"], default: "formal")
        let lang = options.choice("lang", ["zh_CN", "en_US", "zh_HK", "zh_TW"], default: "zh_CN")
        let trait = options.string("openid_trait") ?? "miniprogram_openid"
        guard let shared, let templateID else { return nil }
        return Configuration(
            appID: shared.appID, appSecret: shared.appSecret, templateID: templateID, page: page, state: state, lang: lang,
            openIDTrait: trait, baseURL: shared.baseURL, http: shared.http)
    }

    public init(name: String, configuration: Configuration, context: ChannelContext) {
        self.init(name: name, configuration: configuration, context: context, clock: { Date() })
    }

    init(name: String, configuration: Configuration, context: ChannelContext, clock: @escaping @Sendable () -> Date) {
        self.name = name
        self.configuration = configuration
        self.client = WeChatClient(
            appID: configuration.appID, appSecret: configuration.appSecret, baseURL: configuration.baseURL, http: configuration.http,
            context: context, clock: clock)
    }

    public func deliver(_ message: OutboundMessage) async -> DeliveryResult {
        guard let openID = message.trait(configuration.openIDTrait) else {
            return .deadLetter(reason: "the user has no WeChat openid in trait \"\(configuration.openIDTrait)\"")
        }
        let fields: TemplateFields
        switch TemplateFields.parse(message.text) {
        case .success(let parsed): fields = parsed
        case .failure(let problem): return .deadLetter(reason: "template data: \(problem)")
        }
        var body: Value = ["touser": .string(openID), "template_id": .string(configuration.templateID)]
        if let page = configuration.page { body.set("page", to: .string(page)) }
        body.set("miniprogram_state", to: .string(configuration.state))
        body.set("lang", to: .string(configuration.lang))
        body.set("data", to: fields.wechatData)
        return await client.send(path: "/cgi-bin/message/subscribe/send", body: body)
    }
}

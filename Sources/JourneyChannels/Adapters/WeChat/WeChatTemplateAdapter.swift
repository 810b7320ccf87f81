import Foundation
import JourneyCore

/// Sends WeChat Official Account template messages (公众号模板消息): `POST
/// {base_url}/cgi-bin/message/template/send?access_token=…` with the app's cached access token
/// (``AccessTokenCache``; refreshed once when WeChat answers 40001/42001).
///
/// ```yaml
/// - name: wechat
///   type: wechat_template
///   app_id: wx0123456789abcdef
///   app_secret_credential: wechat-secret   # or app_secret_file: PATH
///   template_id: ngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY
///   openid_trait: wechat_openid            # the user trait with the openid (default wechat_openid)
///   url: https://shop.example/cart         # optional: where the message opens
///   miniprogram_app_id: wx89abcdef01234567 # optional: open a mini program page instead
///   miniprogram_page: pages/cart/index
///   base_url: https://api.weixin.qq.com
/// ```
///
/// The touch's template renders the template's `data` fields as `name: value` lines (``TemplateFields``),
/// sent as `{"name":{"value":"…"}}`. `client_msg_id` is the touch id (WeChat sends one message per openid
/// and id within 10 minutes). A user without an openid is dead-lettered (a journey branches to SMS
/// before that); errcodes follow ``WeChatClient/classify(_:)``.
public struct WeChatTemplateAdapter: ConfigurableChannelAdapter {
    public struct Configuration: Sendable {
        public var appID: String
        var appSecret: Secret
        public var templateID: String
        public var openIDTrait: String
        public var url: String?
        public var miniprogram: (appID: String, page: String)?
        public var baseURL: String
        public var http: HTTPChannelOptions
    }

    public static let type = "wechat_template"
    public static let defaultPolicy = ChannelPolicy(concurrency: 8)

    public let name: String
    /// WeChat deduplicates by `client_msg_id` for 10 minutes only: a touch in doubt after a longer outage
    /// could be sent twice, so in-doubt touches are held.
    public var acceptsIdempotencyKeys: Bool { false }
    private let configuration: Configuration
    let client: WeChatClient

    public static func configure(_ options: ChannelOptions) -> Configuration? {
        let shared = WeChatClient.options(options)
        let templateID = options.string("template_id", required: true)
        let trait = options.string("openid_trait") ?? "wechat_openid"
        let url = options.url("url")
        let miniAppID = options.string("miniprogram_app_id")
        let miniPage = options.string("miniprogram_page")
        if (miniAppID == nil) != (miniPage == nil) {
            options.problem(miniAppID == nil ? "miniprogram_page" : "miniprogram_app_id", "give both miniprogram_app_id and miniprogram_page, or neither")
        }
        guard let shared, let templateID else { return nil }
        return Configuration(
            appID: shared.appID, appSecret: shared.appSecret, templateID: templateID, openIDTrait: trait, url: url?.absoluteString,
            miniprogram: miniAppID.flatMap { id in miniPage.map { (id, $0) } }, baseURL: shared.baseURL, http: shared.http)
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
        if let url = configuration.url { body.set("url", to: .string(url)) }
        if let mini = configuration.miniprogram {
            body.set("miniprogram", to: ["appid": .string(mini.appID), "pagepath": .string(mini.page)])
        }
        body.set("client_msg_id", to: .string(message.idempotencyKey))
        body.set("data", to: fields.wechatData)
        return await client.send(path: "/cgi-bin/message/template/send", body: body)
    }
}

extension TemplateFields {
    /// `{"name":{"value":"…"}}`, WeChat's `data`.
    var wechatData: Value { .object(fields.map { .init($0.name, ["value": .string($0.value)]) }) }
}

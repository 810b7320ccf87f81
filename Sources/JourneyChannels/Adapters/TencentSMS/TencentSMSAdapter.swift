import Foundation
import JourneyCore

/// Sends SMS through Tencent Cloud SMS (腾讯云短信) `SendSms` (API version 2021-01-11): a JSON POST to
/// `{base_url}/` signed with TC3-HMAC-SHA256 (``Signatures/tencentTC3(secretID:secretKey:service:host:contentType:timestamp:body:)``).
///
/// ```yaml
/// - name: sms_tencent
///   type: tencent_sms
///   secret_id: AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE
///   secret_key_credential: tencent-key     # or secret_key_file: PATH
///   sdk_app_id: "1400006666"               # SmsSdkAppId
///   sign_name: 腾讯云                        # the approved signature (签名); required for mainland numbers
///   template_id: "449739"                  # the approved template
///   region: ap-guangzhou                   # X-TC-Region (default ap-guangzhou)
///   address_trait: phone                   # default phone
///   base_url: https://sms.tencentcloudapi.com
/// ```
///
/// The touch's template renders the template parameters as `name: value` lines (``TemplateFields``);
/// their values, in order, are `TemplateParamSet` ({1}, {2}, … in the template). `SessionContext`
/// carries the touch id (echoed in receipts; Tencent does not deduplicate by it). The first
/// `SendStatusSet` entry's `Code: Ok` is sent, with its `SerialNo` as the provider id.
public struct TencentSMSAdapter: ConfigurableChannelAdapter {
    public struct Configuration: Sendable {
        public var secretID: String
        var secretKey: Secret
        public var sdkAppID: String
        public var signName: String?
        public var templateID: String
        public var region: String
        public var addressTrait: String
        public var baseURL: String
        public var http: HTTPChannelOptions
    }

    public static let type = "tencent_sms"
    /// Tencent's SendSms allows 3000 requests a second per account; per-number limits are per touch.
    public static let defaultPolicy = ChannelPolicy(concurrency: 8)

    public let name: String
    public var acceptsIdempotencyKeys: Bool { false }
    private let configuration: Configuration
    private let transport: HTTPTransport
    private let clock: @Sendable () -> Date

    public static func configure(_ options: ChannelOptions) -> Configuration? {
        let http = HTTPChannelOptions(options)
        let secretID = options.string("secret_id", required: true)
        if let secretID, !secretID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) {
            options.problem("secret_id", "a SecretId is ASCII letters and digits (AKID…)")
        }
        let secretKey = options.secret("secret_key", required: true)
        let appID = options.string("sdk_app_id", required: true)
        if let appID, !appID.allSatisfy(\.isNumber) {
            options.problem("sdk_app_id", "an SmsSdkAppId is digits (1400…), found \"\(appID)\"")
        }
        let signName = options.string("sign_name")
        let templateID = options.string("template_id", required: true)
        if let templateID, !templateID.allSatisfy(\.isNumber) {
            options.problem("template_id", "a template id is digits, found \"\(templateID)\"")
        }
        let region = options.string("region") ?? "ap-guangzhou"
        let trait = options.string("address_trait") ?? "phone"
        let base = HTTPChannelOptions.baseURL(options, default: "https://sms.tencentcloudapi.com", http: http)
        guard let secretID, let secretKey, let appID, let templateID, let base else { return nil }
        return Configuration(
            secretID: secretID, secretKey: secretKey, sdkAppID: appID, signName: signName, templateID: templateID, region: region,
            addressTrait: trait, baseURL: base, http: http)
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

    /// The `Host` header of `base_url` (with its port when it has one): what is signed and what is sent.
    var host: String {
        let url = URL(string: configuration.baseURL)
        return (url?.host ?? "") + (url?.port.map { ":\($0)" } ?? "")
    }

    public func deliver(_ message: OutboundMessage) async -> DeliveryResult {
        guard let phone = message.e164Phone(trait: configuration.addressTrait) else {
            return .deadLetter(reason: "the user has no E.164 phone number in trait \"\(configuration.addressTrait)\"")
        }
        let fields: TemplateFields
        switch TemplateFields.parse(message.text) {
        case .success(let parsed): fields = parsed
        case .failure(let problem): return .deadLetter(reason: "template parameters: \(problem)")
        }
        var request: Value = [
            "PhoneNumberSet": [.string(phone)], "SmsSdkAppId": .string(configuration.sdkAppID), "TemplateId": .string(configuration.templateID),
            "TemplateParamSet": .array(fields.fields.map { .string($0.value) }), "SessionContext": .string(message.idempotencyKey),
        ]
        if let sign = configuration.signName { request.set("SignName", to: .string(sign)) }
        let body = Array(request.jsonText.utf8)
        let contentType = "application/json; charset=utf-8"
        let timestamp = Int64(clock().timeIntervalSince1970)
        let authorization = Signatures.tencentTC3(
            secretID: configuration.secretID, secretKey: configuration.secretKey.reveal, service: "sms", host: host,
            contentType: contentType, timestamp: timestamp, body: body)
        let headers = [
            ("Authorization", authorization), ("Content-Type", contentType), ("Host", host), ("X-TC-Action", "SendSms"),
            ("X-TC-Timestamp", String(timestamp)), ("X-TC-Version", "2021-01-11"), ("X-TC-Region", configuration.region),
        ]
        let secrets = [configuration.secretKey, Secret(phone)]
        let exchange = await transport.post(
            configuration.baseURL + "/", headers: headers, body: body, timeout: configuration.http.timeout, redacting: secrets)
        return Self.classify(exchange).redacting(secrets)
    }
}

import Foundation
import JourneyCore

/// Sends SMS through Alibaba Cloud SMS (阿里云短信服务) `SendSms` (API version 2017-05-25): a form POST to
/// `{base_url}/` with the RPC common parameters, signed with HMAC-SHA1 (``Signatures/aliyunRPC(accessKeySecret:method:parameters:)``).
///
/// ```yaml
/// - name: sms_cn
///   type: aliyun_sms
///   access_key_id: LTAI5tExampleKeyId
///   access_key_secret_credential: aliyun-secret   # or access_key_secret_file: PATH
///   sign_name: 阿里云短信测试                        # the registered signature (签名)
///   template_code: SMS_154950909                  # the approved template (模板 CODE)
///   region: cn-hangzhou                           # default cn-hangzhou
///   address_trait: phone                          # the user trait with the E.164 number (default phone)
///   base_url: https://dysmsapi.aliyuncs.com
/// ```
///
/// The touch's template renders the template parameters, one `name: value` line each (``TemplateFields``);
/// they go out as `TemplateParam` JSON. The number is sent as Alibaba expects it: mainland China numbers
/// (+86) as 11 digits, others as country code and number without `+`. `OutId` carries the touch id (it
/// comes back in delivery receipts; Alibaba does not deduplicate by it). `Code: OK` is sent, with `BizId`
/// as the provider id; other codes follow ``classify(_:)``.
public struct AliyunSMSAdapter: ConfigurableChannelAdapter {
    public struct Configuration: Sendable {
        public var accessKeyID: String
        var accessKeySecret: Secret
        public var signName: String
        public var templateCode: String
        public var region: String
        public var addressTrait: String
        public var baseURL: String
        public var http: HTTPChannelOptions
    }

    public static let type = "aliyun_sms"
    /// Alibaba's default API flow control is thousands per second; per-number limits (1 a minute, 5 an
    /// hour, 10 a day) are per recipient and reported per touch.
    public static let defaultPolicy = ChannelPolicy(concurrency: 8)

    public let name: String
    public var acceptsIdempotencyKeys: Bool { false }
    private let configuration: Configuration
    private let transport: HTTPTransport
    private let clock: @Sendable () -> Date
    private let nonce: @Sendable () -> String

    public static func configure(_ options: ChannelOptions) -> Configuration? {
        let http = HTTPChannelOptions(options)
        let keyID = options.string("access_key_id", required: true)
        if let keyID, !keyID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) {
            options.problem("access_key_id", "an AccessKey ID is ASCII letters and digits (LTAI…)")
        }
        let secret = options.secret("access_key_secret", required: true)
        let signName = options.string("sign_name", required: true)
        let templateCode = options.string("template_code", required: true)
        if let templateCode, !templateCode.hasPrefix("SMS_") {
            options.problem("template_code", "a template code looks like SMS_154950909, found \"\(templateCode)\"")
        }
        let region = options.string("region") ?? "cn-hangzhou"
        let trait = options.string("address_trait") ?? "phone"
        let base = HTTPChannelOptions.baseURL(options, default: "https://dysmsapi.aliyuncs.com", http: http)
        guard let keyID, let secret, let signName, let templateCode, let base else { return nil }
        return Configuration(
            accessKeyID: keyID, accessKeySecret: secret, signName: signName, templateCode: templateCode, region: region,
            addressTrait: trait, baseURL: base, http: http)
    }

    public init(name: String, configuration: Configuration, context: ChannelContext) {
        self.init(name: name, configuration: configuration, context: context, clock: { Date() }, nonce: { UUID().uuidString.lowercased() })
    }

    init(
        name: String, configuration: Configuration, context: ChannelContext, clock: @escaping @Sendable () -> Date,
        nonce: @escaping @Sendable () -> String
    ) {
        self.name = name
        self.configuration = configuration
        self.transport = context.transport(allowPrivate: configuration.http.allowPrivate)
        self.clock = clock
        self.nonce = nonce
    }

    /// The number as `PhoneNumbers` wants it: +86 numbers without the country code, others without `+`.
    static func aliyunNumber(_ e164: String) -> String {
        e164.hasPrefix("+86") ? String(e164.dropFirst(3)) : String(e164.dropFirst())
    }

    /// The signed form parameters of one `SendSms` request.
    func parameters(to number: String, params: String, outID: String) -> [(String, String)] {
        var parameters: [(String, String)] = [
            ("AccessKeyId", configuration.accessKeyID), ("Action", "SendSms"), ("Format", "JSON"), ("OutId", outID),
            ("PhoneNumbers", number), ("RegionId", configuration.region), ("SignName", configuration.signName),
            ("SignatureMethod", "HMAC-SHA1"), ("SignatureNonce", nonce()), ("SignatureVersion", "1.0"),
            ("TemplateCode", configuration.templateCode), ("TemplateParam", params),
            ("Timestamp", Self.timestamp(clock())), ("Version", "2017-05-25"),
        ]
        parameters.append(("Signature", Signatures.aliyunRPC(accessKeySecret: configuration.accessKeySecret.reveal, method: "POST", parameters: parameters)))
        return parameters
    }

    /// ISO 8601 in UTC to the second: `2017-07-12T02:42:19Z`.
    static func timestamp(_ date: Date) -> String {
        Timestamp(milliseconds: Int64(date.timeIntervalSince1970) * 1000).iso8601.replacingOccurrences(of: ".000Z", with: "Z")
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
        let number = Self.aliyunNumber(phone)
        let form = parameters(to: number, params: fields.jsonObject.jsonText, outID: message.idempotencyKey)
        let body = form.map { "\(Signatures.urlEncoded($0.0))=\(Signatures.urlEncoded($0.1))" }.joined(separator: "&")
        let secrets = [configuration.accessKeySecret, Secret(phone), Secret(number)]
        let exchange = await transport.post(
            configuration.baseURL + "/", headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")],
            body: Array(body.utf8), timeout: configuration.http.timeout, redacting: secrets)
        return Self.classify(exchange).redacting(secrets)
    }
}

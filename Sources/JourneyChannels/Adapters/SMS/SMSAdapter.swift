import Foundation
import JourneyCore

/// Sends SMS through a Twilio-shaped REST API: a form POST to
/// `{base_url}/2010-04-01/Accounts/{account_sid}/Messages.json` with HTTP Basic `account_sid:auth_token`,
/// and `To`, `From` (or `MessagingServiceSid`) and `Body`.
///
/// ```yaml
/// - name: sms
///   type: sms
///   account_sid: AC0123456789abcdef0123456789abcdef
///   auth_token_credential: twilio-token    # or auth_token_file: PATH
///   from: "+15005550006"                   # or messaging_service_sid: MG…
///   address_trait: phone                   # the user trait with the E.164 number (default phone)
///   status_callback: https://example.com/twilio/status   # optional
///   base_url: https://api.twilio.com
/// ```
///
/// A 201 answer's `sid` is the provider id. Errors use the generic table with Twilio's error code in the
/// reason (429 / 20429 throttles; 401 disables). A user without a usable number is dead-lettered (the
/// number itself never appears in a reason).
public struct SMSAdapter: ConfigurableChannelAdapter {
    public struct Configuration: Sendable {
        public var accountSID: String
        var authToken: Secret
        public var from: String?
        public var messagingServiceSID: String?
        public var addressTrait: String
        public var statusCallback: String?
        public var baseURL: String
        public var http: HTTPChannelOptions
    }

    public static let type = "sms"
    public static let defaultPolicy = ChannelPolicy(concurrency: 8)

    public let name: String
    public var acceptsIdempotencyKeys: Bool { false }
    private let configuration: Configuration
    private let transport: HTTPTransport

    public static func configure(_ options: ChannelOptions) -> Configuration? {
        let http = HTTPChannelOptions(options)
        let sid = options.string("account_sid", required: true)
        if let sid, !sid.allSatisfy({ $0.isLetter || $0.isNumber }) {
            options.problem("account_sid", "an account SID is letters and digits (AC…)")
        }
        let token = options.secret("auth_token", required: true)
        let from = options.string("from")
        let service = options.string("messaging_service_sid")
        if (from == nil) == (service == nil) {
            options.problem("", "give exactly one of from or messaging_service_sid")
        }
        let trait = options.string("address_trait") ?? "phone"
        let callback = options.url("status_callback")
        http.check(callback, key: "status_callback", in: options)
        let base = HTTPChannelOptions.baseURL(options, default: "https://api.twilio.com", http: http)
        guard let sid, let token, let base, (from == nil) != (service == nil) else { return nil }
        return Configuration(
            accountSID: sid, authToken: token, from: from, messagingServiceSID: service, addressTrait: trait,
            statusCallback: callback?.absoluteString, baseURL: base, http: http)
    }

    public init(name: String, configuration: Configuration, context: ChannelContext) {
        self.name = name
        self.configuration = configuration
        self.transport = context.transport(allowPrivate: configuration.http.allowPrivate)
    }

    /// `+` and 7 to 15 digits, the first not 0.
    static func isE164(_ s: String) -> Bool {
        let digits = s.utf8.dropFirst()
        return s.utf8.first == UInt8(ascii: "+") && (7...15).contains(digits.count)
            && digits.allSatisfy { $0 >= 48 && $0 <= 57 } && digits.first != 48
    }

    public func deliver(_ message: OutboundMessage) async -> DeliveryResult {
        guard let to = message.trait(configuration.addressTrait)?.replacingOccurrences(of: " ", with: ""), Self.isE164(to) else {
            return .deadLetter(reason: "the user has no E.164 phone number in trait \"\(configuration.addressTrait)\"")
        }
        var form: [(String, String)] = [("To", to)]
        if let from = configuration.from { form.append(("From", from)) }
        if let service = configuration.messagingServiceSID { form.append(("MessagingServiceSid", service)) }
        form.append(("Body", message.text))
        if let callback = configuration.statusCallback { form.append(("StatusCallback", callback)) }
        let body = form.map { "\(Signatures.urlEncoded($0.0))=\(Signatures.urlEncoded($0.1))" }.joined(separator: "&")
        let credentials = Data("\(configuration.accountSID):\(configuration.authToken.reveal)".utf8).base64EncodedString()
        // The number is personal data: it stays out of reasons even when Twilio's error message quotes it.
        let secrets = [configuration.authToken, Secret(credentials), Secret(to)]
        let url = "\(configuration.baseURL)/2010-04-01/Accounts/\(Signatures.urlEncoded(configuration.accountSID))/Messages.json"
        let exchange = await transport.post(
            url, headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", "Basic \(credentials)"), ("Accept", "application/json")],
            body: Array(body.utf8), timeout: configuration.http.timeout, redacting: secrets)
        return Self.classify(exchange).redacting(secrets)
    }

    static func classify(_ exchange: HTTPExchange) -> DeliveryResult {
        switch exchange {
        case .failed(let outcome):
            return outcome.classification
        case .response(let response):
            if (200..<300).contains(response.status) {
                return .sent(providerMessageID: response.jsonMember("sid") as? String)
            }
            var outcome = response.outcome
            if let code = (response.jsonMember("code") as? NSNumber)?.intValue {
                let text = (response.jsonMember("message") as? String).map { ": \(String($0.prefix(200)))" } ?? ""
                outcome = .status(response.status, retryAfter: response.retryAfter, detail: "Twilio error \(code)\(text)")
            }
            return outcome.classification
        }
    }
}

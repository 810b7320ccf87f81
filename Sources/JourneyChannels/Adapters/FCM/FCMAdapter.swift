import Foundation
import JourneyCore

/// Sends push notifications through Firebase Cloud Messaging's HTTP v1 API: `POST
/// {base_url}/v1/projects/{project_id}/messages:send` with an OAuth2 bearer token made from a
/// service-account key (an RS256 JWT assertion exchanged at the key's `token_uri`; cached until shortly
/// before it expires and shared by all deliveries, ``AccessTokenCache``).
///
/// ```yaml
/// - name: push
///   type: fcm
///   service_account_credential: fcm-key.json   # or service_account_file: PATH (the JSON key)
///   project_id: shop-app-4711                  # default: the key's project_id
///   token_trait: fcm_token                     # the user trait with the device's registration token
///   data: {campaign: lifecycle}                # optional: fixed data keys added to every message
///   base_url: https://fcm.googleapis.com
///   token_url: https://oauth2.googleapis.com/token   # default: the key's token_uri
/// ```
///
/// The message is `notification: {title: subject, body: text}` and `data: {touch_id, journey, step, …}`.
/// FCM's error codes follow ``classify(_:tokenTrait:)``: `UNREGISTERED` dead-letters the touch as
/// ``RecipientFeedback/deviceTokenUnregistered(trait:)`` (the app was uninstalled), and the daemon removes
/// the token trait from the user.
public struct FCMAdapter: ConfigurableChannelAdapter {
    public struct Configuration: Sendable {
        var key: ServiceAccountKey?
        public var projectID: String?
        public var tokenTrait: String
        public var data: [(String, String)]
        public var baseURL: String
        public var tokenURL: String?
        public var http: HTTPChannelOptions
    }

    public static let type = "fcm"
    /// FCM allows 600,000 messages a minute per project.
    public static let defaultPolicy = ChannelPolicy(rateLimits: [RateLimit(count: 600_000, per: .minutes(1))], concurrency: 16)

    public let name: String
    public var acceptsIdempotencyKeys: Bool { false }
    private let configuration: Configuration
    private let key: ServiceAccountKey
    private let transport: HTTPTransport
    private let tokens: AccessTokenCache

    public static func configure(_ options: ChannelOptions) -> Configuration? {
        let http = HTTPChannelOptions(options)
        let secret = options.secret("service_account", required: true)
        var key: ServiceAccountKey?
        if let secret, !secret.reveal.isEmpty {
            switch ServiceAccountKey.parse(secret.reveal) {
            case .success(let parsed): key = parsed
            case .failure(let problem):
                options.problem(options.has("service_account_file") ? "service_account_file" : "service_account_credential", "the key \(problem)")
            }
        }
        let project = options.string("project_id")
        let trait = options.string("token_trait") ?? "fcm_token"
        let data = options.stringPairs("data") ?? []
        for (name, _) in data where ["from", "notification", "message_type"].contains(name) || name.hasPrefix("google") || name.hasPrefix("gcm") {
            options.problem("data.\(name)", "FCM reserves this data key")
        }
        let base = HTTPChannelOptions.baseURL(options, default: "https://fcm.googleapis.com", http: http)
        let tokenURL = options.url("token_url")
        http.check(tokenURL, key: "token_url", in: options)
        guard let secret, let base, key != nil || secret.reveal.isEmpty else { return nil }
        return Configuration(
            key: key, projectID: project, tokenTrait: trait, data: data, baseURL: base, tokenURL: tokenURL?.absoluteString, http: http)
    }

    public init(name: String, configuration: Configuration, context: ChannelContext) throws {
        try self.init(name: name, configuration: configuration, context: context, clock: { Date() })
    }

    init(name: String, configuration: Configuration, context: ChannelContext, clock: @escaping @Sendable () -> Date) throws {
        guard let key = configuration.key else { throw ChannelProblem(channel: name, path: "", message: "the service-account key was not read") }
        self.name = name
        self.configuration = configuration
        self.key = key
        let transport = context.transport(allowPrivate: configuration.http.allowPrivate)
        self.transport = transport
        let tokenURL = configuration.tokenURL ?? key.tokenURI
        let timeout = configuration.http.timeout
        tokens = AccessTokenCache(clock: clock) {
            let assertion: String
            do {
                assertion = try key.assertion(audience: key.tokenURI, now: clock())
            } catch {
                return .failure(.init(result: .disable(reason: "signing the OAuth2 assertion failed: \(error)")))
            }
            let body = "grant_type=\(Signatures.urlEncoded("urn:ietf:params:oauth:grant-type:jwt-bearer"))&assertion=\(assertion)"
            let exchange = await transport.post(
                tokenURL, headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Array(body.utf8), timeout: timeout,
                redacting: [Secret(assertion)])
            return Self.readToken(exchange, now: clock())
        }
    }

    var projectID: String { configuration.projectID ?? key.projectID }

    public func deliver(_ message: OutboundMessage) async -> DeliveryResult {
        guard let deviceToken = message.trait(configuration.tokenTrait) else {
            return .deadLetter(reason: "the user has no FCM registration token in trait \"\(configuration.tokenTrait)\"")
        }
        var data: [Value.Member] = [
            .init("touch_id", .string(message.touch.id)), .init("journey", .string(message.touch.journey)), .init("step", .string(message.touch.step)),
        ]
        data += configuration.data.map { Value.Member($0.0, .string($0.1)) }
        var notification: Value = ["body": .string(message.text)]
        if let title = message.subject { notification.set("title", to: .string(title)) }
        let body: Value = ["message": ["token": .string(deviceToken), "notification": notification, "data": .object(data)]]
        let url = "\(configuration.baseURL)/v1/projects/\(Signatures.urlEncoded(projectID))/messages:send"
        let sent = await tokens.send(
            { token in
                await transport.post(
                    url, headers: [("Authorization", "Bearer \(token.reveal)"), ("Content-Type", "application/json; charset=utf-8")],
                    body: Array(body.jsonText.utf8), timeout: configuration.http.timeout, redacting: [token, Secret(deviceToken)])
            },
            refused: { exchange in
                // UNAUTHENTICATED: the access token expired or was revoked. One fresh token, then give up.
                guard case .response(let response) = exchange else { return false }
                return response.status == 401 && Self.errorCode(response) == nil
            })
        switch sent {
        case .failure(let failure): return failure.result
        case .success(let (exchange, token)): return Self.classify(exchange, tokenTrait: configuration.tokenTrait).redacting([token, Secret(deviceToken)])
        }
    }
}

import Crypto
import Foundation
import JourneyCore

/// Sends push notifications to Apple devices through APNs: `POST {base_url}/3/device/{device token}`
/// over HTTP/2 (APNs refuses HTTP/1.1), authorized by a provider token — an ES256 JWT signed with the
/// team's `.p8` key, reused for 50 minutes by every delivery (``APNsSigningKey``).
///
/// ```yaml
/// - name: push_ios
///   type: apns
///   auth_key_credential: apns-key          # or auth_key_file: AuthKey_ABC123DEFG.p8
///   key_id: ABC123DEFG
///   team_id: DEF123GHIJ
///   topic: com.example.shop                # the app's bundle id
///   environment: production                # or sandbox (development builds)
///   push_type: alert                       # or background (content-available, priority 5)
///   priority: 10                           # 10 now, 5 when convenient for the device, 1 lowest
///   expiration: 1d                         # APNs keeps it this long for an offline device; 0: now or never
///   sound: default                         # optional
///   token_trait: apns_token                # the user trait with the device token (hex)
///   data: {campaign: lifecycle}            # optional: fixed keys added to every payload
///   base_url: https://api.push.apple.com   # default: by environment
///   ca_file: /etc/journeyd/private-ca.pem  # optional: trust this CA instead of the system's
/// ```
///
/// Each touch is one request with `apns-collapse-id` (the touch id, so a resent touch replaces the one on
/// screen) and `apns-id` (a UUID derived from the touch id, so APNs' answers and logs name the touch). The
/// payload is `{"aps":{"alert":{"title","body"},…},"touch_id","journey","step",…}`. Answers follow
/// ``classify(_:tokenTrait:)``: `410 Unregistered` dead-letters the touch as
/// ``RecipientFeedback/deviceTokenUnregistered(trait:)`` and the daemon removes the token from the user.
public struct APNsAdapter: ConfigurableChannelAdapter {
    public enum PushType: String, Sendable {
        case alert, background
    }

    public struct Configuration: Sendable {
        /// Nil when `journeyd check` was told not to read secrets.
        var key: APNsSigningKey?
        public var topic: String
        public var pushType: PushType
        public var priority: Int
        /// How long APNs stores the notification for an offline device (zero: deliver now or never).
        public var expiration: TimeSpan
        public var sound: String?
        public var tokenTrait: String
        public var data: [(String, String)]
        public var baseURL: String
        public var caFile: String?
        public var http: HTTPChannelOptions
    }

    public static let type = "apns"
    /// APNs publishes no rate limit per provider; it asks for few connections with many streams each.
    public static let defaultPolicy = ChannelPolicy(concurrency: 32)
    /// The largest payload APNs accepts for alert and background notifications.
    static let payloadLimit = 4096

    public let name: String
    /// APNs does not deduplicate: `apns-collapse-id` replaces a resent touch's notification while it is
    /// still shown, but one already dismissed would appear again.
    public var acceptsIdempotencyKeys: Bool { false }
    private let configuration: Configuration
    private let transport: HTTPTransport
    /// The provider token every delivery shares (internal: the tests check it never leaks).
    let tokens: AccessTokenCache
    private let clock: @Sendable () -> Date

    public static func configure(_ options: ChannelOptions) -> Configuration? {
        let http = HTTPChannelOptions(options)
        let secret = options.secret("auth_key", required: true)
        let keyID = options.string("key_id", required: true)
        let teamID = options.string("team_id", required: true)
        for (option, id) in [("key_id", keyID), ("team_id", teamID)] {
            if let id, !APNsSigningKey.isAppleID(id) { options.problem(option, "expected Apple's 10 capital letters and digits, found \"\(id)\"") }
        }
        var privateKey: P256.Signing.PrivateKey?
        if let secret, !secret.reveal.isEmpty {
            switch APNsSigningKey.parsePrivateKey(secret.reveal) {
            case .success(let parsed): privateKey = parsed
            case .failure(let problem): options.problem(options.has("auth_key_file") ? "auth_key_file" : "auth_key_credential", "the key \(problem)")
            }
        }
        let topic = options.string("topic", required: true)
        if let topic, topic.contains(where: { $0.isWhitespace || $0 == "/" }) { options.problem("topic", "expected the app's bundle id, found \"\(topic)\"") }
        let environment = options.choice("environment", ["production", "sandbox"], default: "production")
        let pushType = PushType(rawValue: options.choice("push_type", ["alert", "background"], default: "alert"))!
        let priority = options.integer("priority", default: pushType == .background ? 5 : 10, range: 1...10)
        if ![1, 5, 10].contains(priority) {
            options.problem("priority", "APNs knows priorities 10, 5 and 1, found \(priority)")
        } else if pushType == .background && priority != 5 {
            options.problem("priority", "background notifications must have priority 5 (APNs refuses others)")
        }
        let expiration = options.duration("expiration", default: .days(1), range: .zero...(.days(30)))
        let sound = options.string("sound")
        if sound != nil && pushType == .background { options.problem("sound", "a background notification plays no sound") }
        let trait = options.string("token_trait") ?? "apns_token"
        let data = options.stringPairs("data") ?? []
        for (name, _) in data where ["aps", "touch_id", "journey", "step"].contains(name) {
            options.problem("data.\(name)", "the payload's \"\(name)\" is set by the channel")
        }
        let defaultURL = environment == "sandbox" ? "https://api.sandbox.push.apple.com" : "https://api.push.apple.com"
        let base = HTTPChannelOptions.baseURL(options, default: defaultURL, http: http)
        if let base, !base.lowercased().hasPrefix("https:") { options.problem("base_url", "must be https: APNs speaks only HTTP/2 over TLS") }
        let caFile = options.readableFile("ca_file")
        guard let secret, let keyID, let teamID, let topic, let base, privateKey != nil || secret.reveal.isEmpty else { return nil }
        return Configuration(
            key: privateKey.map { APNsSigningKey(keyID: keyID, teamID: teamID, privateKey: $0) }, topic: topic, pushType: pushType,
            priority: priority, expiration: expiration, sound: sound, tokenTrait: trait, data: data, baseURL: base, caFile: caFile, http: http)
    }

    public init(name: String, configuration: Configuration, context: ChannelContext) throws {
        try self.init(name: name, configuration: configuration, context: context, clock: { Date() })
    }

    init(name: String, configuration: Configuration, context: ChannelContext, clock: @escaping @Sendable () -> Date) throws {
        guard let key = configuration.key else { throw ChannelProblem(channel: name, path: "", message: "the signing key was not read") }
        self.name = name
        self.configuration = configuration
        self.clock = clock
        transport = HTTPTransport(allowPrivate: configuration.http.allowPrivate, http2: true, caFile: configuration.caFile)
        tokens = key.tokenCache(clock: clock)
    }

    public func shutdown() async {
        await transport.shutdown()
    }

    public func deliver(_ message: OutboundMessage) async -> DeliveryResult {
        guard let deviceToken = message.trait(configuration.tokenTrait) else {
            return .deadLetter(reason: "the user has no APNs device token in trait \"\(configuration.tokenTrait)\"")
        }
        guard deviceToken.count <= 200, deviceToken.count % 2 == 0, deviceToken.allSatisfy(\.isHexDigit) else {
            return .deadLetter(reason: "the device token in trait \"\(configuration.tokenTrait)\" is not hexadecimal, as APNs tokens are")
        }
        let body = Array(payload(message).jsonText.utf8)
        guard body.count <= Self.payloadLimit else {
            return .deadLetter(reason: "APNs PayloadTooLarge: the payload has \(body.count) bytes, APNs takes at most \(Self.payloadLimit)")
        }
        let url = "\(configuration.baseURL)/3/device/\(deviceToken)"
        let sent = await tokens.send(
            { token in
                await transport.post(
                    url, headers: headers(message, token: token), body: body, timeout: configuration.http.timeout,
                    redacting: [token, Secret(deviceToken)])
            },
            refused: { exchange in
                // The token outlived APNs' hour (a suspended machine, a stepped clock): one new token and
                // the touch once more; a fresh token refused too means the clock is wrong, which holds for all.
                guard case .response(let response) = exchange else { return false }
                return response.status == 403 && Self.errorReason(response) == "ExpiredProviderToken"
            })
        switch sent {
        case .failure(let failure): return failure.result
        case .success(let (exchange, token)): return Self.classify(exchange, tokenTrait: configuration.tokenTrait).redacting([token, Secret(deviceToken)])
        }
    }

    /// The JSON payload: `aps` (the alert, or `content-available` for a background notification), then the
    /// touch's ids and the channel's fixed `data`.
    func payload(_ message: OutboundMessage) -> Value {
        var aps: Value
        switch configuration.pushType {
        case .alert:
            var alert: Value = [:]
            if let title = message.subject { alert.set("title", to: .string(title)) }
            alert.set("body", to: .string(message.text))
            aps = ["alert": alert]
            if let sound = configuration.sound { aps.set("sound", to: .string(sound)) }
        case .background:
            aps = ["content-available": 1]
        }
        var members: [Value.Member] = [
            .init("aps", aps), .init("touch_id", .string(message.touch.id)), .init("journey", .string(message.touch.journey)),
            .init("step", .string(message.touch.step)),
        ]
        members += configuration.data.map { Value.Member($0.0, .string($0.1)) }
        return .object(members)
    }

    /// The request headers APNs reads; `apns-expiration` counts from now.
    func headers(_ message: OutboundMessage, token: Secret) -> [(String, String)] {
        let expiration = configuration.expiration == .zero ? 0 : Int64(clock().timeIntervalSince1970) + configuration.expiration.milliseconds / 1000
        return [
            ("authorization", "bearer \(token.reveal)"), ("apns-topic", configuration.topic), ("apns-push-type", configuration.pushType.rawValue),
            ("apns-priority", String(configuration.priority)), ("apns-expiration", String(expiration)),
            ("apns-collapse-id", Self.collapseID(message.touch.id)), ("apns-id", Self.apnsID(message.touch.id)),
            ("content-type", "application/json"),
        ]
    }

    /// The touch id, or (when longer than APNs' 64 bytes) its SHA-256 in hex, which is 64 bytes.
    static func collapseID(_ touchID: String) -> String {
        touchID.utf8.count <= 64 ? touchID : Signatures.hex(SHA256.hash(data: Array(touchID.utf8)))
    }

    /// A name-based UUID (version 5, RFC 9562) of the touch id: the same touch always has the same `apns-id`.
    static func apnsID(_ touchID: String) -> String {
        var input = withUnsafeBytes(of: apnsIDNamespace.uuid) { Array($0) }
        input.append(contentsOf: touchID.utf8)
        var bytes = Array(Insecure.SHA1.hash(data: input).prefix(16))
        bytes[6] = (bytes[6] & 0x0f) | 0x50
        bytes[8] = (bytes[8] & 0x3f) | 0x80
        let hex = Signatures.hex(bytes)
        let parts = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { range in
            String(hex[hex.index(hex.startIndex, offsetBy: range.lowerBound)..<hex.index(hex.startIndex, offsetBy: range.upperBound)])
        }
        return parts.joined(separator: "-")
    }

    /// The namespace of ``apnsID(_:)`` (fixed: changing it changes every touch's `apns-id`).
    static let apnsIDNamespace = UUID(uuidString: "6F1C4A52-8F0E-4B1D-9A57-3C2E0D9B7A41")!
}

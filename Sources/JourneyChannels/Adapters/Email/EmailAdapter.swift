import Foundation
import JourneyCore
import NIOSSL

/// Sends each touch as an email over SMTP: a MIME message (text, and HTML when the template has it),
/// `Message-ID` derived from the touch id, and `List-Unsubscribe` with one-click
/// `List-Unsubscribe-Post` (RFC 8058) when the touch has an unsubscribe URL.
///
/// ```yaml
/// - name: email
///   type: email
///   host: smtp.example.com             # required
///   port: 587                          # default 465 with tls: implicit, else 587
///   tls: required                      # required (default) | starttls (when offered) | implicit | none
///   tls_server_name: smtp.example.com  # the name the certificate must carry (default: host)
///   ca_file: /etc/journeyd/relay-ca.pem  # trust this CA instead of the system's
///   username: journeys
///   password_credential: smtp-password # or password_file: PATH
///   auth: auto                         # auto (PLAIN, else LOGIN) | plain | login
///   from: news@example.com             # required
///   from_name: Example Shop
///   reply_to: care@example.com
///   address_trait: email               # the user trait with the recipient's address (default email)
///   helo_name: journeyd.example.com    # default: this machine's host name
///   message_id_domain: example.com     # default: the from address's domain
///   timeout: 60s                       # the whole session after connecting
/// ```
///
/// SMTP replies are read by where they come: 4xx anywhere is retried; 5xx to RCPT TO or DATA
/// dead-letters the touch; 5xx to AUTH or STARTTLS, a refused sender, or a server without the TLS the
/// channel requires disables the channel. Credentials are only ever sent over TLS.
public struct EmailAdapter: ConfigurableChannelAdapter {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var security: SMTPSecurity
        public var serverName: String?
        public var caFile: String?
        public var username: String?
        var password: Secret?
        public var mechanism: String?
        public var from: String
        public var fromName: String?
        public var replyTo: String?
        public var addressTrait: String
        public var heloName: String
        public var messageIDDomain: String
        public var timeout: TimeSpan
    }

    public static let type = "email"
    public static let defaultPolicy = ChannelPolicy(concurrency: 4)

    public let name: String
    public var acceptsIdempotencyKeys: Bool { false }
    private let configuration: Configuration
    private let client: SMTPClient

    public static func configure(_ options: ChannelOptions) -> Configuration? {
        let host = options.string("host", required: true)
        let security = SMTPSecurity(rawValue: options.choice("tls", ["required", "starttls", "implicit", "none"], default: "required"))!
        let port = options.integer("port", default: security == .implicit ? 465 : 587, range: 1...65535)
        var serverName = options.string("tls_server_name")
        if serverName == nil, let host, !Self.isIPAddress(host) { serverName = host }
        let caFile = options.readableFile("ca_file")
        let username = options.string("username")
        let password = options.secret("password", required: username != nil)
        if username == nil && (options.has("password_file") || options.has("password_credential")) {
            options.problem("username", "missing: a password needs a username")
        }
        if username != nil && security == .none {
            options.problem("tls", "credentials are never sent without TLS; use tls: required, starttls or implicit")
        }
        let mechanism: String? =
            switch options.choice("auth", ["auto", "plain", "login"], default: "auto") {
            case "plain": "PLAIN"
            case "login": "LOGIN"
            default: nil
            }
        let from = options.string("from", required: true)
        if let from, !MIMEMessage.isAddress(from) { options.problem("from", "not a plain address like news@example.com") }
        let replyTo = options.string("reply_to")
        if let replyTo, !MIMEMessage.isAddress(replyTo) { options.problem("reply_to", "not a plain address like care@example.com") }
        let fromName = options.string("from_name")
        let trait = options.string("address_trait") ?? "email"
        let helo = options.string("helo_name") ?? Self.hostName()
        if helo.contains(where: { $0.isWhitespace || $0.isNewline }) { options.problem("helo_name", "must be one word") }
        let domain = options.string("message_id_domain") ?? from.flatMap { $0.split(separator: "@").last.map(String.init) } ?? "journeyd"
        let timeout = options.duration("timeout", default: .seconds(60), range: .seconds(1)...(.minutes(10)))
        guard let host, let from, !options.hasProblems else { return nil }
        return Configuration(
            host: host, port: port, security: security, serverName: serverName, caFile: caFile, username: username,
            password: password, mechanism: mechanism, from: from, fromName: fromName, replyTo: replyTo, addressTrait: trait,
            heloName: helo, messageIDDomain: domain, timeout: timeout)
    }

    public init(name: String, configuration: Configuration, context: ChannelContext) throws {
        self.name = name
        self.configuration = configuration
        var tls: NIOSSLContext?
        if configuration.security != .none {
            var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
            tlsConfiguration.minimumTLSVersion = .tlsv12
            if let caFile = configuration.caFile {
                tlsConfiguration.trustRoots = .file(caFile)
            }
            do {
                tls = try NIOSSLContext(configuration: tlsConfiguration)
            } catch {
                throw ChannelProblem(channel: name, path: configuration.caFile == nil ? "tls" : "ca_file", message: "cannot set up TLS: \(error)")
            }
        }
        client = SMTPClient(
            settings: .init(
                host: configuration.host, port: configuration.port, security: configuration.security, tls: tls,
                serverName: configuration.serverName, username: configuration.username, password: configuration.password,
                mechanism: configuration.mechanism, heloName: configuration.heloName, connectTimeout: .seconds(10),
                timeout: configuration.timeout))
    }

    public func deliver(_ message: OutboundMessage) async -> DeliveryResult {
        if Task.isCancelled { return .retry(after: nil, reason: "cancelled") }
        guard let to = message.trait(configuration.addressTrait), MIMEMessage.isAddress(to) else {
            return .deadLetter(reason: "the user has no usable email address in trait \"\(configuration.addressTrait)\"")
        }
        var headers: [(String, String)] = []
        for header in message.headers {
            guard WebhookAdapter.isToken(header.name), !MIMEMessage.ownHeaders.contains(header.name.lowercased()),
                !header.value.contains(where: { $0 == "\r" || $0 == "\n" })
            else {
                return .deadLetter(reason: "the message has an invalid or reserved header \"\(header.name.prefix(60))\"")
            }
            headers.append((header.name, header.value))
        }
        let mime = MIMEMessage(
            from: configuration.from, fromName: configuration.fromName, to: to, replyTo: configuration.replyTo,
            subject: message.subject, text: message.text, html: message.html,
            messageID: Self.messageID(touchID: message.touch.id, domain: configuration.messageIDDomain), date: Date(),
            unsubscribeURL: message.unsubscribeURL.flatMap { Self.isHeaderSafeURL($0) ? $0 : nil }, headers: headers)
        let result = await client.send(from: configuration.from, to: to, message: mime.bytes)
        // The address is personal data: servers often quote it in their replies.
        return result.redacting((configuration.password.map { [$0] } ?? []) + [Secret(to)])
    }

    /// `<touch id>.journeyd@<domain>`: the same for every attempt of a touch, so receivers (and people)
    /// can tell a retried message from a new one.
    static func messageID(touchID: String, domain: String) -> String { "\(touchID).journeyd@\(domain)" }

    static func isHeaderSafeURL(_ url: String) -> Bool {
        (url.hasPrefix("https://") || url.hasPrefix("http://") || url.hasPrefix("mailto:"))
            && url.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7f && $0 != "<" && $0 != ">" }
    }

    static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }
}

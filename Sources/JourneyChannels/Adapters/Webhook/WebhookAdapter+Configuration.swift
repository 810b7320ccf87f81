import Foundation
import JourneyCore

extension WebhookAdapter {
    /// A `webhook` channel's options:
    ///
    /// ```yaml
    /// - name: crm
    ///   type: webhook
    ///   url: https://hooks.example.com/journeys     # required; https unless allow_private
    ///   secret_file: /etc/journeyd/crm.whsec         # or secret_credential: crm-whsec; optional
    ///   signature: standard                          # standard (default) | github | stripe
    ///   headers: { X-Team: growth }                  # extra request headers
    ///   timeout: 15s
    ///   allow_private: false
    ///   receiver_deduplicates: true                  # the receiver drops repeated webhook-id / Idempotency-Key
    /// ```
    ///
    /// A Standard Webhooks secret is `whsec_` + base64; the secret file may hold several (one per line, or
    /// separated by spaces) while keys rotate, and each signs the request (`v1,… v1,…`). GitHub- and
    /// Stripe-style secrets are one per line (GitHub signs with the first).
    public struct Configuration: Sendable {
        public var url: URL
        public var http: HTTPChannelOptions
        public var scheme: SignatureScheme
        var secrets: [Secret]
        public var headers: [(String, String)]
        public var receiverDeduplicates: Bool
    }

    public enum SignatureScheme: String, Sendable {
        case standard, github, stripe
    }

    /// Request headers the adapter sets itself, which `headers` may not replace.
    static let reservedHeaders: Set<String> = [
        "content-type", "content-length", "host", "user-agent", "idempotency-key", "webhook-id", "webhook-timestamp",
        "webhook-signature", "x-hub-signature-256", "stripe-signature", "transfer-encoding", "connection",
    ]

    public static func configure(_ options: ChannelOptions) -> Configuration? {
        let http = HTTPChannelOptions(options)
        let url = options.url("url", required: true)
        http.check(url, key: "url", in: options)
        let secret = options.secret("secret", required: false)
        let scheme = SignatureScheme(rawValue: options.choice("signature", ["standard", "github", "stripe"], default: "standard"))!
        if options.has("signature") && !options.has("secret_file") && !options.has("secret_credential") {
            options.problem("signature", "a signature needs a secret (secret_file or secret_credential)")
        }
        var secrets: [Secret] = []
        if let secret, options.context.readSecrets {
            // One secret per line while keys rotate (whsec_ secrets, which have no spaces, may also be
            // separated by spaces, as Standard Webhooks writes them).
            secrets = secret.reveal.split(whereSeparator: { $0.isNewline || (scheme == .standard && $0 == " ") })
                .map { Secret($0.trimmingCharacters(in: .whitespaces)) }.filter { !$0.reveal.isEmpty }
            if scheme == .standard {
                for s in secrets where Signatures.standardWebhooksKey(s.reveal) == nil {
                    options.problem(options.has("secret_file") ? "secret_file" : "secret_credential", "a Standard Webhooks secret is whsec_ followed by base64")
                    break
                }
            }
        }
        var headers: [(String, String)] = []
        for (name, value) in options.stringPairs("headers") ?? [] {
            if reservedHeaders.contains(name.lowercased()) {
                options.problem("headers.\(name)", "set by the webhook channel itself")
            } else if !Self.isToken(name) || value.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) {
                options.problem("headers.\(name)", "not a valid header")
            } else {
                headers.append((name, value))
            }
        }
        let deduplicates = options.bool("receiver_deduplicates", default: true)
        guard let url else { return nil }
        return Configuration(
            url: url, http: http, scheme: scheme, secrets: secrets, headers: headers,
            receiverDeduplicates: deduplicates)
    }

    static func isToken(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || "!#$%&'*+-.^_`|~".utf8.contains(c)
        }
    }
}

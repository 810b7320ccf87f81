import Crypto
import Foundation

/// Signatures for outgoing webhooks, as their receivers verify them. Each matches the published test
/// vectors (see the tests): Standard Webhooks, GitHub, Stripe, Twilio, DingTalk and Feishu.
public enum Signatures {
    /// Standard Webhooks: `v1,` + base64(HMAC-SHA256(key: base64-decoded secret without `whsec_`,
    /// message: `"<id>.<timestamp>.<body>"`)). Nil when the secret is not base64.
    public static func standardWebhooks(secret: String, id: String, timestamp: Int64, body: some Collection<UInt8>) -> String? {
        guard let key = standardWebhooksKey(secret) else { return nil }
        var message = Array("\(id).\(timestamp).".utf8)
        message.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key))
        return "v1," + Data(mac).base64EncodedString()
    }

    /// The key bytes of a Standard Webhooks secret (`whsec_` + base64); nil when it is not base64.
    static func standardWebhooksKey(_ secret: String) -> Data? {
        let encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret
        guard let key = Data(base64Encoded: encoded), !key.isEmpty else { return nil }
        return key
    }

    /// GitHub's `X-Hub-Signature-256`: `sha256=` + hex(HMAC-SHA256(key: secret, message: body)).
    public static func github(secret: String, body: some Collection<UInt8>) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(body), using: SymmetricKey(data: Array(secret.utf8)))
        return "sha256=" + hex(mac)
    }

    /// Stripe's `Stripe-Signature`: `t=<ts>,v1=` + hex(HMAC-SHA256(key: secret, message: `"<ts>.<body>"`)).
    public static func stripe(secret: String, timestamp: Int64, body: some Collection<UInt8>) -> String {
        var message = Array("\(timestamp).".utf8)
        message.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Array(secret.utf8)))
        return "t=\(timestamp),v1=" + hex(mac)
    }

    /// Twilio's `X-Twilio-Signature`: base64(HMAC-SHA1(key: auth token, message: the full URL followed by
    /// every POST parameter's name and value, sorted by name)).
    public static func twilio(authToken: String, url: String, parameters: [(String, String)]) -> String {
        var message = url
        for (name, value) in parameters.sorted(by: { $0.0 < $1.0 }) { message += name + value }
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Array(message.utf8), using: SymmetricKey(data: Array(authToken.utf8)))
        return Data(mac).base64EncodedString()
    }

    /// DingTalk robot signing (加签): base64(HMAC-SHA256(key: secret, message: `"<ms>\n<secret>"`)), to be
    /// URL-encoded into the `sign` query parameter (``DingTalkAdapter`` does; ``urlEncoded(_:)``).
    public static func dingTalk(secret: String, timestampMilliseconds: Int64) -> String {
        let mac = HMAC<SHA256>.authenticationCode(
            for: Array("\(timestampMilliseconds)\n\(secret)".utf8), using: SymmetricKey(data: Array(secret.utf8)))
        return Data(mac).base64EncodedString()
    }

    /// Feishu/Lark bot signing: base64(HMAC-SHA256(key: `"<seconds>\n<secret>"`, message: empty)) — key and
    /// message are the other way round from DingTalk.
    public static func feishu(secret: String, timestampSeconds: Int64) -> String {
        let mac = HMAC<SHA256>.authenticationCode(
            for: [UInt8](), using: SymmetricKey(data: Array("\(timestampSeconds)\n\(secret)".utf8)))
        return Data(mac).base64EncodedString()
    }

    /// Percent-encodes everything but ASCII letters, digits and `-._~` (Python's `quote_plus` for these
    /// inputs): what DingTalk's `sign` parameter and form bodies need.
    public static func urlEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

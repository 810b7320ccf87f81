import Crypto
import Foundation
import JourneyCore

/// The request signatures of the Chinese SMS clouds, exactly as their documentation specifies (the
/// published examples are test vectors: `SigningVectorTests`).
extension Signatures {
    /// Alibaba Cloud's RPC signature (SignatureVersion 1.0, HMAC-SHA1): every parameter but `Signature`,
    /// sorted by name (byte order), each name and value percent-encoded (``urlEncoded(_:)``: RFC 3986
    /// unreserved characters kept, space `%20`, `*` `%2A`), joined `name=value&…`; then
    /// `StringToSign = METHOD&%2F&` + percent-encode(that); the signature is
    /// base64(HMAC-SHA1(key: AccessKeySecret + "&", StringToSign)).
    public static func aliyunRPC(accessKeySecret: String, method: String, parameters: [(String, String)]) -> String {
        let mac = HMAC<Insecure.SHA1>.authenticationCode(
            for: Array(aliyunStringToSign(method: method, parameters: parameters).utf8),
            using: SymmetricKey(data: Array("\(accessKeySecret)&".utf8)))
        return Data(mac).base64EncodedString()
    }

    /// The `StringToSign` of ``aliyunRPC(accessKeySecret:method:parameters:)``.
    static func aliyunStringToSign(method: String, parameters: [(String, String)]) -> String {
        method + "&" + urlEncoded("/") + "&" + urlEncoded(aliyunCanonicalQuery(parameters))
    }

    /// The parameters sorted by name in byte order, percent-encoded, `Signature` left out.
    static func aliyunCanonicalQuery(_ parameters: [(String, String)]) -> String {
        parameters.filter { $0.0 != "Signature" }
            .sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
            .map { "\(urlEncoded($0.0))=\(urlEncoded($0.1))" }
            .joined(separator: "&")
    }

    /// Tencent Cloud API 3.0 signing (TC3-HMAC-SHA256) of a POST with a JSON body, signing the
    /// `content-type` and `host` headers: returns the `Authorization` header value.
    ///
    /// CanonicalRequest = `POST\n/\n\ncontent-type:<ct>\nhost:<host>\n\ncontent-type;host\n` + hex(SHA256(body));
    /// StringToSign = `TC3-HMAC-SHA256\n<timestamp>\n<date>/<service>/tc3_request\n` + hex(SHA256(CanonicalRequest)),
    /// with `date` the UTC date of the timestamp; the key is derived by HMAC-SHA256 chaining
    /// `"TC3" + SecretKey` → date → service → `tc3_request`, and the signature is hex(HMAC-SHA256(key, StringToSign)).
    public static func tencentTC3(
        secretID: String, secretKey: String, service: String, host: String, contentType: String, timestamp: Int64,
        body: some Collection<UInt8>
    ) -> String {
        let date = tc3Date(timestamp)
        let scope = "\(date)/\(service)/tc3_request"
        let stringToSign = "TC3-HMAC-SHA256\n\(timestamp)\n\(scope)\n" + sha256Hex(tc3CanonicalRequest(host: host, contentType: contentType, body: body).utf8)
        func hmac(_ key: [UInt8], _ text: String) -> [UInt8] {
            Array(HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: SymmetricKey(data: key)))
        }
        let key = hmac(hmac(hmac(Array("TC3\(secretKey)".utf8), date), service), "tc3_request")
        let signature = hex(hmac(key, stringToSign))
        return "TC3-HMAC-SHA256 Credential=\(secretID)/\(scope), SignedHeaders=content-type;host, Signature=\(signature)"
    }

    static func tc3CanonicalRequest(host: String, contentType: String, body: some Collection<UInt8>) -> String {
        "POST\n/\n\ncontent-type:\(contentType.lowercased())\nhost:\(host.lowercased())\n\ncontent-type;host\n" + sha256Hex(body)
    }

    /// hex(SHA-256(bytes)), TC3's hash.
    static func sha256Hex(_ bytes: some Collection<UInt8>) -> String { hex(SHA256.hash(data: Array(bytes))) }

    /// The UTC date (`yyyy-MM-dd`) of a Unix timestamp.
    static func tc3Date(_ timestamp: Int64) -> String {
        let date = CivilDate(daysSinceEpoch: Int64((Double(timestamp) / 86_400).rounded(.down)))
        return "\(date.year)-\(String(date.month).leftPadded(to: 2))-\(String(date.day).leftPadded(to: 2))"
    }
}

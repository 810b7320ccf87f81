import Crypto
import Foundation
import JourneyCore
import _CryptoExtras

/// Compact JSON Web Tokens (RFC 7519) signed the two ways push providers ask for: RS256 (a Google
/// service account's OAuth2 assertion) and ES256 (an APNs provider token).
enum JWT {
    /// `base64url(header).base64url(claims).base64url(RSASSA-PKCS1-v1_5 SHA-256 signature)`.
    static func rs256(header: Value, claims: Value, key: _RSA.Signing.PrivateKey) throws -> String {
        let input = signingInput(header: header, claims: claims)
        let signature = try key.signature(for: Array(input.utf8), padding: .insecurePKCS1v1_5)
        return input + "." + base64URL(signature.rawRepresentation)
    }

    /// `base64url(header).base64url(claims).base64url(r || s)` with P-256 and SHA-256.
    static func es256(header: Value, claims: Value, key: P256.Signing.PrivateKey) throws -> String {
        let input = signingInput(header: header, claims: claims)
        let signature = try key.signature(for: Array(input.utf8))
        return input + "." + base64URL(signature.rawRepresentation)
    }

    static func signingInput(header: Value, claims: Value) -> String {
        base64URL(Array(header.jsonText.utf8)) + "." + base64URL(Array(claims.jsonText.utf8))
    }

    /// Base64 with the URL alphabet and no padding (RFC 7515 §2).
    static func base64URL(_ bytes: some DataProtocol) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

import Crypto
import Foundation
import JourneyCore

/// An APNs token-signing key (the `AuthKey_<key id>.p8` file from the Apple developer account) with the
/// key id and team id that name it: what the provider tokens APNs checks are signed with. The private
/// key never leaves this type but as a signature.
struct APNsSigningKey: Sendable {
    /// The key's 10-character id (the `kid` of every token).
    var keyID: String
    /// The developer team's 10-character id (the `iss` of every token).
    var teamID: String
    /// The private key's scalar (`P256.Signing.PrivateKey` is not `Sendable`; a key is made for each signing).
    private let scalar: Data

    init(keyID: String, teamID: String, privateKey: P256.Signing.PrivateKey) {
        self.keyID = keyID
        self.teamID = teamID
        scalar = privateKey.rawRepresentation
    }

    /// A token is reused this long. APNs refuses tokens older than an hour (`ExpiredProviderToken`) and
    /// new tokens more often than every 20 minutes (`TooManyProviderTokenUpdates`).
    static let reuseFor: TimeInterval = 50 * 60

    /// Reads a `.p8` file's text: a PKCS #8 PEM P-256 key. The error says what is wrong, never what is in it.
    static func parsePrivateKey(_ pem: String) -> Result<P256.Signing.PrivateKey, KeyProblem> {
        guard pem.contains("-----BEGIN") else {
            return .failure(KeyProblem(message: "is not a PEM file (the .p8 key from the Apple developer account)"))
        }
        guard let key = try? P256.Signing.PrivateKey(pemRepresentation: pem) else {
            return .failure(KeyProblem(message: "is not a P-256 (ES256) private key in PEM, as APNs signing keys are"))
        }
        return .success(key)
    }

    struct KeyProblem: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// Whether `id` has the shape of Apple's key and team ids: 10 capital letters and digits.
    static func isAppleID(_ id: String) -> Bool {
        id.utf8.count == 10 && id.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) }
    }

    /// The provider token for `now`: `{"alg":"ES256","kid":…}.{"iss":…,"iat":…}`, signed (JWT, RFC 7519).
    func providerToken(issuedAt now: Date) throws -> String {
        let header: Value = ["alg": "ES256", "kid": .string(keyID)]
        let claims: Value = ["iss": .string(teamID), "iat": .number(Double(Int64(now.timeIntervalSince1970)))]
        return try JWT.es256(header: header, claims: claims, key: P256.Signing.PrivateKey(rawRepresentation: scalar))
    }

    /// A cache handing every delivery the same token for ``reuseFor``, and a new one after APNs refused it.
    func tokenCache(clock: @escaping @Sendable () -> Date) -> AccessTokenCache {
        AccessTokenCache(clock: clock) { [self] in
            let now = clock()
            do {
                return .success(.init(value: Secret(try providerToken(issuedAt: now)), expiresAt: now.addingTimeInterval(Self.reuseFor)))
            } catch {
                return .failure(.init(result: .disable(reason: "signing the APNs provider token failed: \(error)")))
            }
        }
    }
}

import Foundation
import JourneyCore
import _CryptoExtras

/// A Google service account's JSON key, as the Firebase console downloads it: what FCM's OAuth2 token is
/// made from. Only the fields that matter are kept; the private key never leaves this type but as a signature.
struct ServiceAccountKey: Sendable {
    var projectID: String
    var clientEmail: String
    var privateKeyID: String?
    var tokenURI: String
    let privateKey: _RSA.Signing.PrivateKey

    /// Reads a key file's text; the error says which field is wrong, never what is in it.
    static func parse(_ text: String) -> Result<ServiceAccountKey, KeyProblem> {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            return .failure(KeyProblem(message: "is not a JSON object (a service-account key file from the Firebase console)"))
        }
        if let type = object["type"] as? String, type != "service_account" {
            return .failure(KeyProblem(message: "has type \"\(type)\", expected \"service_account\""))
        }
        var missing: [String] = []
        func field(_ name: String) -> String? {
            guard let value = object[name] as? String, !value.isEmpty else {
                missing.append(name)
                return nil
            }
            return value
        }
        let project = field("project_id")
        let email = field("client_email")
        let pem = field("private_key")
        guard let project, let email, let pem else {
            return .failure(KeyProblem(message: "lacks \(missing.joined(separator: ", "))"))
        }
        guard let key = try? _RSA.Signing.PrivateKey(pemRepresentation: pem) else {
            return .failure(KeyProblem(message: "has a private_key that is not an RSA key of 2048 bits or more in PEM"))
        }
        return .success(
            ServiceAccountKey(
                projectID: project, clientEmail: email, privateKeyID: object["private_key_id"] as? String,
                tokenURI: (object["token_uri"] as? String) ?? "https://oauth2.googleapis.com/token", privateKey: key))
    }

    struct KeyProblem: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// The OAuth2 scope FCM's HTTP v1 API needs.
    static let scope = "https://www.googleapis.com/auth/firebase.messaging"

    /// The signed assertion exchanged for an access token (RFC 7523): valid for an hour from `now`.
    func assertion(audience: String, now: Date) throws -> String {
        var header: Value = ["alg": "RS256", "typ": "JWT"]
        if let privateKeyID { header.set("kid", to: .string(privateKeyID)) }
        let issued = Int64(now.timeIntervalSince1970)
        let claims: Value = [
            "iss": .string(clientEmail), "scope": .string(Self.scope), "aud": .string(audience), "iat": .number(Double(issued)),
            "exp": .number(Double(issued + 3600)),
        ]
        return try JWT.rs256(header: header, claims: claims, key: privateKey)
    }
}

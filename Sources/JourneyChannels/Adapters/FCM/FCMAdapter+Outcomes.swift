import Foundation
import JourneyCore

extension FCMAdapter {
    /// The `errorCode` of an FCM error (`error.details[].errorCode`), if any.
    static func errorCode(_ response: HTTPResponseSummary) -> String? {
        guard let error = response.jsonMember("error") as? [String: Any], let details = error["details"] as? [[String: Any]] else { return nil }
        return details.lazy.compactMap { $0["errorCode"] as? String }.first
    }

    /// FCM HTTP v1's documented error codes onto the outcome table:
    ///
    /// | status / errorCode | result |
    /// |---|---|
    /// | 200 | sent (the message `name`) |
    /// | 404 `UNREGISTERED` | dead letter, ``RecipientFeedback/deviceTokenUnregistered(trait:)`` (the device token is gone) |
    /// | 400 `INVALID_ARGUMENT`, 403 `SENDER_ID_MISMATCH` | dead letter (this touch's token or payload) |
    /// | 429 `QUOTA_EXCEEDED` | throttle (`Retry-After`) |
    /// | 503 `UNAVAILABLE`, 500 `INTERNAL` | retry (`Retry-After`) |
    /// | 401 `THIRD_PARTY_AUTH_ERROR` | disable (the APNs or web-push credential in Firebase is wrong) |
    /// | 401 without a code (after one token refresh), 403 `PERMISSION_DENIED` | disable |
    static func classify(_ exchange: HTTPExchange, tokenTrait: String = "fcm_token") -> DeliveryResult {
        let response: HTTPResponseSummary
        switch exchange {
        case .failed(let outcome): return outcome.classification
        case .response(let r): response = r
        }
        if (200..<300).contains(response.status) { return .sent(providerMessageID: response.jsonMember("name") as? String) }
        let error = response.jsonMember("error") as? [String: Any]
        let code = errorCode(response) ?? (error?["status"] as? String) ?? "HTTP \(response.status)"
        let message = (error?["message"] as? String).map { ": \($0.prefix(200))" } ?? ""
        let reason = "FCM \(code)\(message)"
        switch code {
        case "UNREGISTERED": return .deadLetter(reason: RecipientFeedback.deviceTokenUnregistered(trait: tokenTrait).reasonPrefix + reason)
        case "INVALID_ARGUMENT", "SENDER_ID_MISMATCH": return .deadLetter(reason: reason)
        case "QUOTA_EXCEEDED": return .throttle(for: response.retryAfter, reason: reason)
        case "UNAVAILABLE", "INTERNAL": return .retry(after: response.retryAfter, reason: reason)
        case "THIRD_PARTY_AUTH_ERROR": return .disable(reason: reason)
        default: return AttemptOutcome.status(response.status, retryAfter: response.retryAfter, detail: reason).classification
        }
    }

    /// `{"access_token":"…","expires_in":3599}` from Google's token endpoint, or why not.
    static func readToken(_ exchange: HTTPExchange, now: Date) -> Result<AccessTokenCache.Token, AccessTokenCache.FetchFailure> {
        switch exchange {
        case .failed(let outcome):
            return .failure(.init(result: outcome.classification.prefixed("fetching the OAuth2 token")))
        case .response(let response):
            if (200..<300).contains(response.status), let token = response.jsonMember("access_token") as? String, !token.isEmpty {
                let lifetime = (response.jsonMember("expires_in") as? NSNumber)?.doubleValue ?? 3600
                return .success(.init(value: Secret(token), expiresAt: now.addingTimeInterval(max(lifetime - AccessTokenCache.margin, lifetime / 2))))
            }
            let error = (response.jsonMember("error") as? String) ?? "HTTP \(response.status)"
            let description = (response.jsonMember("error_description") as? String).map { ": \($0.prefix(200))" } ?? ""
            let reason = "fetching the OAuth2 token: \(error)\(description)"
            // invalid_grant / invalid_client / unauthorized_client: the key is wrong, revoked or disabled.
            if (400..<500).contains(response.status) && response.status != 429 && response.status != 408 { return .failure(.init(result: .disable(reason: reason))) }
            return .failure(.init(result: AttemptOutcome.status(response.status, retryAfter: response.retryAfter, detail: reason).classification))
        }
    }
}

extension DeliveryResult {
    /// The same result with `context` before its reason; a touch-level refusal of a credential becomes the
    /// channel's (`disable`): it holds for every touch.
    func prefixed(_ context: String) -> DeliveryResult {
        switch self {
        case .sent: return .retry(after: nil, reason: "\(context): no token in the answer")
        case .retry(let after, let reason): return .retry(after: after, reason: "\(context): \(reason)")
        case .throttle(let span, let reason): return .throttle(for: span, reason: "\(context): \(reason)")
        case .disable(let reason), .deadLetter(let reason): return .disable(reason: "\(context): \(reason)")
        }
    }
}

import Foundation
import JourneyCore
import NIOHTTP1

extension APNsAdapter {
    /// The `reason` of an APNs error answer (`{"reason":"BadDeviceToken"}`), if any.
    static func errorReason(_ response: HTTPResponseSummary) -> String? {
        response.jsonMember("reason") as? String
    }

    /// What APNs' documented reasons mean for the touch ("Handling notification responses from APNs"):
    ///
    /// | status / reason | result | why |
    /// |---|---|---|
    /// | 200 | sent (the `apns-id`) | |
    /// | 410 `Unregistered`, `ExpiredToken` | dead letter, ``RecipientFeedback/deviceTokenUnregistered(trait:)`` | the app is gone from that device: the token is removed from the user |
    /// | 400 `BadDeviceToken`, `DeviceTokenNotForTopic` | dead letter | this user's token; kept on the user, because a channel pointed at the wrong environment gets the same answer for every token |
    /// | 400 `BadCollapseId`, `BadExpirationDate`, `BadMessageId`, `DuplicateHeaders`, `MissingDeviceToken`, `PayloadEmpty`, 413 `PayloadTooLarge` | dead letter | this request |
    /// | 400 `BadTopic`, `MissingTopic`, `TopicDisallowed`, `BadPriority`, `InvalidPushType`, 404 `BadPath`, 405 `MethodNotAllowed` | disable | the channel's options: every touch would be refused the same way |
    /// | 403 `InvalidProviderToken`, `MissingProviderToken`, `BadCertificate`, `BadCertificateEnvironment`, `Forbidden`, `UnrelatedKeyIdInToken`, `BadEnvironmentKeyInToken` | disable | the key, key id, team id or environment is wrong |
    /// | 403 `ExpiredProviderToken` | disable | only after one fresh token was refused too (the first refusal signs a new token and resends: ``deliver(_:)``): the machine's clock is off |
    /// | 429 `TooManyRequests` | retry (`Retry-After`) | too many notifications to this one device: a limit of the touch, not of the channel |
    /// | 429 `TooManyProviderTokenUpdates` | throttle | the channel changed its token too often; the pipeline holds it |
    /// | 400 `IdleTimeout`, 500 `InternalServerError`, 503 `ServiceUnavailable`, `Shutdown` | retry (`Retry-After`) | |
    /// | anything else | the generic table (``AttemptOutcome/classification``) | |
    ///
    /// A 2xx or error that came over HTTP/1.1 is not from APNs (it speaks only HTTP/2): disable.
    static func classify(_ exchange: HTTPExchange, tokenTrait: String = "apns_token") -> DeliveryResult {
        let response: HTTPResponseSummary
        switch exchange {
        case .failed(let outcome): return outcome.classification
        case .response(let r): response = r
        }
        guard response.version.major >= 2 else {
            return .disable(reason: "the server answered over HTTP/\(response.version.major).\(response.version.minor), not HTTP/2: it is not APNs (base_url)")
        }
        if (200..<300).contains(response.status) { return .sent(providerMessageID: response.headers.first(name: "apns-id")) }
        let code = errorReason(response)
        var reason = "APNs \(response.status) \(code ?? AttemptOutcome.reasonPhrases[response.status] ?? "error")"
        if let stamp = (response.jsonMember("timestamp") as? NSNumber)?.doubleValue {
            reason += " (the token is invalid since \(Timestamp(milliseconds: Int64(stamp)).iso8601))"
        }
        guard let code, let kind = reasons[code] else {
            return AttemptOutcome.status(response.status, retryAfter: response.retryAfter, detail: reason).classification
        }
        switch kind {
        case .unregistered: return .deadLetter(reason: RecipientFeedback.deviceTokenUnregistered(trait: tokenTrait).reasonPrefix + reason)
        case .code(let providerCode): return providerCode.result(reason, retryAfter: response.retryAfter)
        }
    }

    enum ReasonKind {
        case unregistered
        case code(ProviderCode)
    }

    /// APNs' reasons by name (the table of ``classify(_:tokenTrait:)``).
    static let reasons: [String: ReasonKind] = {
        var table: [String: ReasonKind] = ["Unregistered": .unregistered, "ExpiredToken": .unregistered]
        for name in [
            "BadDeviceToken", "DeviceTokenNotForTopic", "BadCollapseId", "BadExpirationDate", "BadMessageId", "DuplicateHeaders",
            "MissingDeviceToken", "PayloadEmpty", "PayloadTooLarge",
        ] { table[name] = .code(.deadLetter) }
        for name in [
            "BadTopic", "MissingTopic", "TopicDisallowed", "BadPriority", "InvalidPushType", "BadPath", "MethodNotAllowed",
            "InvalidProviderToken", "MissingProviderToken", "BadCertificate", "BadCertificateEnvironment", "Forbidden",
            "UnrelatedKeyIdInToken", "BadEnvironmentKeyInToken", "ExpiredProviderToken",
        ] { table[name] = .code(.disable) }
        for name in ["TooManyRequests", "IdleTimeout", "InternalServerError", "ServiceUnavailable", "Shutdown"] { table[name] = .code(.retry(nil)) }
        table["TooManyProviderTokenUpdates"] = .code(.throttle(.minutes(20)))
        return table
    }()
}

import Foundation
import JourneyCore

extension AliyunSMSAdapter {
    /// Alibaba Cloud's documented `Code`s (SMS error codes and the RPC gateway's), onto the outcome table.
    /// Codes not listed fall back to the HTTP status (2xx with an unknown code: dead letter).
    ///
    /// | code | result | why |
    /// |---|---|---|
    /// | `OK` | sent (`BizId`) | |
    /// | `Throttling`, `Throttling.User`, `Throttling.Api` | throttle 1 s | the account's API flow control |
    /// | `isv.BUSINESS_LIMIT_CONTROL` | retry after 1 h | this number's limit (1/min, 5/h, 10/day) |
    /// | `isv.DAY_LIMIT_CONTROL` | throttle 1 h | the account's daily limit |
    /// | `isp.SYSTEM_ERROR`, `isp.GATEWAY_ERROR`, `ServiceUnavailable`, `InternalError`, `SignatureNonceUsed`, `InvalidTimeStamp.Expired` | retry | |
    /// | `InvalidAccessKeyId.NotFound`, `InvalidAccessKeyId.Inactive`, `SignatureDoesNotMatch`, `Forbidden.RAM`, `isp.RAM_PERMISSION_DENY`, `isv.ACCOUNT_NOT_EXISTS`, `isv.ACCOUNT_ABNORMAL`, `isv.OUT_OF_SERVICE`, `isv.AMOUNT_NOT_ENOUGH`, `isv.SMS_SIGNATURE_ILLEGAL`, `isv.SMS_SIGN_ILLEGAL`, `isv.SMS_TEMPLATE_ILLEGAL`, `isv.SIGN_NAME_ILLEGAL`, `isv.DENY_IP_RANGE` | disable | the credential, account, signature or template: every touch would fail alike |
    /// | `isv.MOBILE_NUMBER_ILLEGAL`, `isv.BLACK_KEY_CONTROL_LIMIT`, `isv.TEMPLATE_MISSING_PARAMETERS`, `isv.TEMPLATE_PARAMS_ILLEGAL`, `isv.PARAM_LENGTH_LIMIT`, `isv.INVALID_JSON_PARAM`, `isv.MOBILE_COUNT_OVER_LIMIT`, `isv.INVALID_PARAMETERS` | dead letter | this touch's number or parameters |
    static func classify(_ exchange: HTTPExchange) -> DeliveryResult {
        let response: HTTPResponseSummary
        switch exchange {
        case .failed(let outcome): return outcome.classification
        case .response(let r): response = r
        }
        guard let code = response.jsonMember("Code") as? String else {
            return (200..<300).contains(response.status)
                ? .retry(after: nil, reason: "HTTP \(response.status) with an unreadable answer: \(response.excerpt)")
                : response.outcome.classification
        }
        let text = (response.jsonMember("Message") as? String).map { ": \(String($0.prefix(200)))" } ?? ""
        let reason = "Alibaba Cloud \(code)\(text)"
        if code == "OK" { return .sent(providerMessageID: response.jsonMember("BizId") as? String) }
        if let outcome = outcomes[code] { return outcome.result(reason, retryAfter: response.retryAfter) }
        if code.hasPrefix("Throttling") { return .throttle(for: .seconds(1), reason: reason) }
        if (200..<300).contains(response.status) { return .deadLetter(reason: reason) }
        return AttemptOutcome.status(response.status, retryAfter: response.retryAfter, detail: reason).classification
    }

    static let outcomes: [String: ProviderCode] = {
        var table: [String: ProviderCode] = [
            "Throttling": .throttle(.seconds(1)), "Throttling.User": .throttle(.seconds(1)), "Throttling.Api": .throttle(.seconds(1)),
            "isv.BUSINESS_LIMIT_CONTROL": .retry(.hours(1)), "isv.DAY_LIMIT_CONTROL": .throttle(.hours(1)),
        ]
        for code in ["isp.SYSTEM_ERROR", "isp.GATEWAY_ERROR", "ServiceUnavailable", "InternalError", "SignatureNonceUsed", "InvalidTimeStamp.Expired"] {
            table[code] = .retry(nil)
        }
        for code in [
            "InvalidAccessKeyId.NotFound", "InvalidAccessKeyId.Inactive", "SignatureDoesNotMatch", "Forbidden.RAM", "isp.RAM_PERMISSION_DENY",
            "isv.ACCOUNT_NOT_EXISTS", "isv.ACCOUNT_ABNORMAL", "isv.OUT_OF_SERVICE", "isv.AMOUNT_NOT_ENOUGH", "isv.SMS_SIGNATURE_ILLEGAL",
            "isv.SMS_SIGN_ILLEGAL", "isv.SMS_TEMPLATE_ILLEGAL", "isv.SIGN_NAME_ILLEGAL", "isv.DENY_IP_RANGE",
        ] {
            table[code] = .disable
        }
        for code in [
            "isv.MOBILE_NUMBER_ILLEGAL", "isv.BLACK_KEY_CONTROL_LIMIT", "isv.TEMPLATE_MISSING_PARAMETERS", "isv.TEMPLATE_PARAMS_ILLEGAL",
            "isv.PARAM_LENGTH_LIMIT", "isv.INVALID_JSON_PARAM", "isv.MOBILE_COUNT_OVER_LIMIT", "isv.INVALID_PARAMETERS",
        ] {
            table[code] = .deadLetter
        }
        return table
    }()
}

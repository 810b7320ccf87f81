import Foundation
import JourneyCore

extension TencentSMSAdapter {
    /// Tencent Cloud's documented error codes (the API's `Response.Error.Code`, or the number's
    /// `SendStatusSet[0].Code`), onto the outcome table:
    ///
    /// | code | result |
    /// |---|---|
    /// | `Ok` | sent (`SerialNo`) |
    /// | `RequestLimitExceeded` | throttle 1 s (the API's frequency limit) |
    /// | `LimitExceeded.AppDailyLimit`, `LimitExceeded.DailyLimit` | throttle 1 h (the application's daily limit) |
    /// | `LimitExceeded.PhoneNumberThirtySecondLimit` | retry after 30 s (this number) |
    /// | `LimitExceeded.PhoneNumberOneHourLimit`, `…DailyLimit`, `…SameContentDailyLimit`, `LimitExceeded.PhoneNumberCountLimit` | retry after 1 h (this number) |
    /// | `InternalError.*`, `AuthFailure.SignatureExpire` (clock skew) | retry |
    /// | `AuthFailure.*` (other), `UnauthorizedOperation.*`, `FailedOperation.SignatureIncorrectOrUnapproved`, `FailedOperation.TemplateIncorrectOrUnapproved`, `FailedOperation.InsufficientBalanceInSmsPackage`, `FailedOperation.MissingSignature`, `InvalidParameterValue.SdkAppIdNotExist` | disable |
    /// | anything else (`InvalidParameterValue.IncorrectPhoneNumber`, `FailedOperation.PhoneNumberInBlacklist`, `FailedOperation.ContainSensitiveWord`, `InvalidParameterValue.TemplateParameterFormatError`, …) | dead letter |
    static func classify(_ exchange: HTTPExchange) -> DeliveryResult {
        let response: HTTPResponseSummary
        switch exchange {
        case .failed(let outcome): return outcome.classification
        case .response(let r): response = r
        }
        guard (200..<300).contains(response.status) else { return response.outcome.classification }
        guard let answer = response.jsonMember("Response") as? [String: Any] else {
            return .retry(after: nil, reason: "HTTP \(response.status) with an unreadable answer: \(response.excerpt)")
        }
        let code: String
        let message: String
        if let error = answer["Error"] as? [String: Any] {
            code = error["Code"] as? String ?? "?"
            message = error["Message"] as? String ?? ""
        } else if let status = (answer["SendStatusSet"] as? [[String: Any]])?.first {
            code = status["Code"] as? String ?? "?"
            message = status["Message"] as? String ?? ""
            if code == "Ok" { return .sent(providerMessageID: status["SerialNo"] as? String) }
        } else {
            return .retry(after: nil, reason: "HTTP \(response.status) without Error or SendStatusSet: \(response.excerpt)")
        }
        let reason = "Tencent Cloud \(code)\(message.isEmpty ? "" : ": \(message.prefix(200))")"
        return outcome(of: code).result(reason, retryAfter: response.retryAfter)
    }

    static func outcome(of code: String) -> ProviderCode {
        switch code {
        case "RequestLimitExceeded": return .throttle(.seconds(1))
        case "LimitExceeded.AppDailyLimit", "LimitExceeded.DailyLimit": return .throttle(.hours(1))
        case "LimitExceeded.PhoneNumberThirtySecondLimit": return .retry(.seconds(30))
        case "AuthFailure.SignatureExpire": return .retry(nil)
        case "FailedOperation.SignatureIncorrectOrUnapproved", "FailedOperation.TemplateIncorrectOrUnapproved",
            "FailedOperation.InsufficientBalanceInSmsPackage", "FailedOperation.MissingSignature", "InvalidParameterValue.SdkAppIdNotExist":
            return .disable
        default:
            if code.hasPrefix("LimitExceeded.PhoneNumber") { return .retry(.hours(1)) }
            if code.hasPrefix("InternalError") { return .retry(nil) }
            if code.hasPrefix("AuthFailure") || code.hasPrefix("UnauthorizedOperation") { return .disable }
            return .deadLetter
        }
    }
}

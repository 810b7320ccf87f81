import Foundation
import JourneyCore

extension WeChatClient {
    /// WeChat's documented `errcode`s (global return codes and the message APIs'), onto the outcome table.
    ///
    /// | errcode | result | meaning |
    /// |---|---|---|
    /// | 0 | sent (`msgid`) | |
    /// | -1 | retry | system busy |
    /// | 40001, 40014, 42001 | (refresh the token once and resend; then retry) | token invalid or expired |
    /// | 45009 | throttle 1 h | the app's daily API quota |
    /// | 45011 | throttle 1 min | the API's minute quota |
    /// | 43101 | dead letter, ``RecipientFeedback/consentRefused`` | the user refused the subscribe message, or used up its one-time quota |
    /// | 43004 | dead letter, ``RecipientFeedback/consentRefused`` | the user does not follow the Official Account |
    /// | 40003, 40036, 47003, 47001, 44002 | dead letter | invalid openid, data, or argument of this touch |
    /// | 40013, 40125, 40164, 41001, 41002, 41004, 48001, 40037, 41028, 41030, 50002, 89503 | disable | app id, secret, IP whitelist, permission, template or page: every touch would fail alike |
    /// | other | dead letter | |
    static func classify(_ exchange: HTTPExchange) -> DeliveryResult {
        switch exchange {
        case .failed(let outcome):
            return outcome.classification
        case .response(let response):
            guard (200..<300).contains(response.status) else { return response.outcome.classification }
            guard let answer = RobotAnswer(response, codeKeys: ["errcode"], messageKeys: ["errmsg"]) else {
                return .retry(after: nil, reason: "HTTP \(response.status) with an unreadable answer: \(response.excerpt)")
            }
            if answer.code == 0 {
                let id = response.jsonMember("msgid").map { "\($0)" }
                return .sent(providerMessageID: id)
            }
            let reason = "WeChat \(answer.detail)"
            switch answer.code {
            case 43101, 43004: return .deadLetter(reason: RecipientFeedback.consentRefused.reasonPrefix + reason)
            default: return outcome(of: answer.code).result(reason)
            }
        }
    }

    static func outcome(of code: Int) -> ProviderCode {
        switch code {
        case -1, 40001, 40014, 42001: return .retry(nil)
        case 45009: return .throttle(.hours(1))
        case 45011: return .throttle(.minutes(1))
        case 40013, 40125, 40164, 41001, 41002, 41004, 48001, 40037, 41028, 41030, 50002, 89503: return .disable
        default: return .deadLetter
        }
    }
}

import Foundation

/// The JSON answer of a chat robot (WeCom, DingTalk, Feishu): HTTP 200 with an error code in the body,
/// where anything but 0 is a failure.
struct RobotAnswer {
    var code: Int
    var message: String

    /// Reads the first of `codeKeys` present (`errcode`; Feishu: `code` or `StatusCode`) and the message
    /// beside it; nil when the body is not such an object.
    init?(_ response: HTTPResponseSummary, codeKeys: [String], messageKeys: [String]) {
        guard let data = response.body.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        guard let code = codeKeys.lazy.compactMap({ (object[$0] as? NSNumber)?.intValue }).first else { return nil }
        self.code = code
        let message = messageKeys.lazy.compactMap { object[$0] as? String }.first ?? ""
        self.message = String(message.prefix(200))
    }

    var detail: String { message.isEmpty ? "errcode \(code)" : "errcode \(code): \(message)" }
}

extension HTTPResponseSummary {
    /// A robot's answer read with `refine`: non-2xx statuses use the generic table (with `refineStatus`
    /// first), 2xx answers without a readable code are failures to retry.
    func robotResult(
        codeKeys: [String] = ["errcode"], messageKeys: [String] = ["errmsg"], refineStatus: (Int) -> DeliveryResult? = { _ in nil },
        refine: (RobotAnswer) -> DeliveryResult
    ) -> DeliveryResult {
        guard (200..<300).contains(status) else { return refineStatus(status) ?? outcome.classification }
        guard let answer = RobotAnswer(self, codeKeys: codeKeys, messageKeys: messageKeys) else {
            return .retry(after: nil, reason: "HTTP \(status) with an unreadable answer: \(excerpt)")
        }
        if answer.code == 0 { return .sent(providerMessageID: nil) }
        return refine(answer)
    }
}

import Foundation
import JourneyCore
import NIOHTTP1
import Testing

@testable import JourneyChannels

/// The kind of a result, without its payload, for table comparisons.
func kind(_ result: DeliveryResult) -> String {
    switch result {
    case .sent: return "sent"
    case .retry: return "retry"
    case .throttle: return "throttle"
    case .disable: return "disable"
    case .deadLetter: return "dead letter"
    }
}

@Suite struct OutcomeTableTests {
    static let table: [(AttemptOutcome, String)] = [
        (.status(200), "sent"), (.status(201), "sent"), (.status(202), "sent"), (.status(204), "sent"),
        (.status(301), "disable"), (.status(308), "disable"), (.status(302), "retry"), (.status(303), "retry"),
        (.status(307), "retry"),
        (.status(400), "dead letter"), (.status(401), "disable"), (.status(403), "disable"), (.status(404), "dead letter"),
        (.status(405), "dead letter"), (.status(408), "retry"), (.status(409), "retry"), (.status(410), "disable"),
        (.status(413), "dead letter"), (.status(422), "dead letter"), (.status(425), "retry"), (.status(429), "throttle"),
        (.status(500), "retry"), (.status(501), "retry"), (.status(502), "retry"), (.status(503), "retry"),
        (.status(504), "retry"), (.status(599), "retry"),
        (.timeout, "retry"), (.connectionRefused(""), "retry"), (.connectionReset(""), "retry"),
        (.tlsFailure("handshake failed"), "retry"), (.dnsFailure("no such host"), "retry"), (.cancelled, "retry"),
        (.failure("something else"), "retry"), (.refusedDestination("127.0.0.1 is a loopback address"), "disable"),
    ]

    @Test(arguments: table.indices)
    func genericTable(_ index: Int) {
        let (outcome, expected) = Self.table[index]
        #expect(kind(outcome.classification) == expected, "\(outcome)")
    }

    @Test func retryAfterIsCarriedOnRetriesAndThrottles() {
        #expect(AttemptOutcome.status(429, retryAfter: .seconds(7)).classification == .throttle(for: .seconds(7), reason: "HTTP 429 Too Many Requests"))
        #expect(AttemptOutcome.status(503, retryAfter: .seconds(30)).classification == .retry(after: .seconds(30), reason: "HTTP 503 Service Unavailable"))
    }

    @Test func retryAfterParsesSecondsAndHTTPDates() {
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        #expect(HTTPTransport.retryAfter("120", now: now) == .seconds(120))
        #expect(HTTPTransport.retryAfter("Tue, 14 Nov 2023 22:15:20 GMT", now: now) == .seconds(120))
        #expect(HTTPTransport.retryAfter("Tue, 14 Nov 2023 22:00:00 GMT", now: now) == .zero, "a date in the past means now")
        #expect(HTTPTransport.retryAfter("soon", now: now) == nil)
    }

    static func response(_ status: Int, _ body: String) -> HTTPExchange {
        .response(HTTPResponseSummary(status: status, headers: HTTPHeaders(), body: body, retryAfter: nil))
    }

    @Test func slackRefinements() {
        #expect(kind(SlackAdapter.classify(Self.response(200, "ok"))) == "sent")
        #expect(kind(SlackAdapter.classify(Self.response(200, "something else"))) == "dead letter")
        #expect(kind(SlackAdapter.classify(Self.response(404, "channel_not_found"))) == "disable")
        #expect(kind(SlackAdapter.classify(Self.response(410, "channel_is_archived"))) == "disable")
        #expect(kind(SlackAdapter.classify(Self.response(403, "action_prohibited"))) == "disable")
        #expect(kind(SlackAdapter.classify(Self.response(400, "invalid_payload"))) == "dead letter")
        #expect(kind(SlackAdapter.classify(Self.response(429, ""))) == "throttle")
        #expect(kind(SlackAdapter.classify(Self.response(500, "rollup_error"))) == "retry")
    }

    @Test func dingTalkRefinements() {
        #expect(kind(DingTalkAdapter.classify(Self.response(200, #"{"errcode":0,"errmsg":"ok"}"#))) == "sent")
        let throttled = DingTalkAdapter.classify(Self.response(200, #"{"errcode":130101,"errmsg":"send too fast"}"#))
        #expect(throttled == .throttle(for: .minutes(10), reason: "DingTalk errcode 130101: send too fast"))
        #expect(kind(DingTalkAdapter.classify(Self.response(200, #"{"errcode":310000,"errmsg":"sign not match"}"#))) == "disable")
        #expect(kind(DingTalkAdapter.classify(Self.response(200, #"{"errcode":40035,"errmsg":"bad param"}"#))) == "dead letter")
        #expect(kind(DingTalkAdapter.classify(Self.response(200, "<html>proxy</html>"))) == "retry")
    }

    @Test func weComRefinements() {
        #expect(kind(WeComAdapter.classify(Self.response(200, #"{"errcode":0,"errmsg":"ok"}"#))) == "sent")
        #expect(kind(WeComAdapter.classify(Self.response(200, #"{"errcode":45009,"errmsg":"api freq out of limit"}"#))) == "throttle")
        #expect(kind(WeComAdapter.classify(Self.response(200, #"{"errcode":93000,"errmsg":"invalid webhook url"}"#))) == "disable")
        #expect(kind(WeComAdapter.classify(Self.response(200, #"{"errcode":40008,"errmsg":"invalid message type"}"#))) == "dead letter")
    }

    @Test func feishuRefinements() {
        #expect(kind(FeishuAdapter.classify(Self.response(200, #"{"code":0,"msg":"success","data":{}}"#))) == "sent")
        #expect(kind(FeishuAdapter.classify(Self.response(200, #"{"StatusCode":0,"StatusMessage":"success"}"#))) == "sent")
        #expect(kind(FeishuAdapter.classify(Self.response(200, #"{"code":11232,"msg":"frequency limited"}"#))) == "throttle")
        #expect(kind(FeishuAdapter.classify(Self.response(200, #"{"code":19021,"msg":"sign match fail"}"#))) == "disable")
        #expect(kind(FeishuAdapter.classify(Self.response(200, #"{"code":9499,"msg":"Bad Request"}"#))) == "dead letter")
    }

    @Test func twilioRefinements() {
        #expect(SMSAdapter.classify(Self.response(201, #"{"sid":"SM123","status":"queued"}"#)) == .sent(providerMessageID: "SM123"))
        let invalid = SMSAdapter.classify(Self.response(400, #"{"code":21211,"message":"Invalid 'To' Phone Number","status":400}"#))
        #expect(invalid == .deadLetter(reason: "HTTP 400 Bad Request: Twilio error 21211: Invalid 'To' Phone Number"))
        #expect(kind(SMSAdapter.classify(Self.response(401, #"{"code":20003,"message":"Authenticate"}"#))) == "disable")
        #expect(kind(SMSAdapter.classify(Self.response(429, #"{"code":20429,"message":"Too Many Requests"}"#))) == "throttle")
    }

    @Test func apnsReasons() {
        func answer(_ status: Int, _ reason: String, version: HTTPVersion = .http2, retryAfter: TimeSpan? = nil) -> DeliveryResult {
            APNsAdapter.classify(
                .response(HTTPResponseSummary(status: status, headers: HTTPHeaders(), body: #"{"reason":"\#(reason)"}"#, retryAfter: retryAfter, version: version)))
        }
        #expect(answer(410, "ExpiredToken").reason.flatMap(RecipientFeedback.init(reason:)) == .deviceTokenUnregistered(trait: "apns_token"))
        #expect(answer(400, "DeviceTokenNotForTopic") == .deadLetter(reason: "APNs 400 DeviceTokenNotForTopic"))
        #expect(answer(413, "PayloadTooLarge") == .deadLetter(reason: "APNs 413 PayloadTooLarge"))
        #expect(answer(403, "BadEnvironmentKeyInToken") == .disable(reason: "APNs 403 BadEnvironmentKeyInToken"))
        #expect(answer(400, "InvalidPushType") == .disable(reason: "APNs 400 InvalidPushType"))
        #expect(answer(429, "TooManyProviderTokenUpdates") == .throttle(for: .minutes(20), reason: "APNs 429 TooManyProviderTokenUpdates"))
        #expect(answer(429, "TooManyRequests", retryAfter: .seconds(30)) == .retry(after: .seconds(30), reason: "APNs 429 TooManyRequests"))
        #expect(answer(503, "Shutdown") == .retry(after: nil, reason: "APNs 503 Shutdown"))
        #expect(answer(400, "IdleTimeout") == .retry(after: nil, reason: "APNs 400 IdleTimeout"))
        // A reason APNs may add later falls back to the generic table (410 without Unregistered: disable).
        #expect(kind(answer(400, "SomethingNew")) == "dead letter" && kind(answer(410, "SomethingNew")) == "disable")
        #expect(kind(answer(200, "", version: .http1_1)) == "disable", "an HTTP/1.1 server is not APNs")
    }

    @Test func smtpRepliesByStage() {
        func reply(_ code: Int) -> SMTPReply { SMTPReply(code: code, lines: ["x"], trailingBytes: false) }
        #expect(kind(SMTPClient.classify(reply(451), .rcptTo)) == "retry")
        #expect(kind(SMTPClient.classify(reply(421), .mailFrom)) == "retry")
        #expect(kind(SMTPClient.classify(reply(550), .rcptTo)) == "dead letter")
        #expect(kind(SMTPClient.classify(reply(554), .dataEnd)) == "dead letter")
        #expect(kind(SMTPClient.classify(reply(535), .auth)) == "disable")
        #expect(kind(SMTPClient.classify(reply(550), .mailFrom)) == "disable")
        #expect(kind(SMTPClient.classify(reply(552), .mailFrom)) == "dead letter")
        #expect(kind(SMTPClient.classify(reply(554), .greeting)) == "retry")
    }
}

/// Dead-letter reasons that carry what the provider said about the recipient, read back as the daemon does.
@Suite struct RecipientFeedbackTests {
    @Test func reasonsCarryFeedbackBothWays() {
        for feedback in [RecipientFeedback.consentRefused, .deviceTokenUnregistered(trait: "fcm_token")] {
            #expect(RecipientFeedback(reason: feedback.reasonPrefix + "FCM UNREGISTERED: gone") == feedback)
        }
        #expect(RecipientFeedback(reason: "WeChat errcode 40003: invalid openid") == nil)
        #expect(RecipientFeedback(reason: "unregistered device token (trait ): x") == nil)
        let refusal = WeChatClient.classify(OutcomeTableTests.response(200, #"{"errcode":43101,"errmsg":"user refuse to accept the msg"}"#))
        #expect(refusal.reason.flatMap(RecipientFeedback.init(reason:)) == .consentRefused)
        let gone = FCMAdapter.classify(
            OutcomeTableTests.response(404, #"{"error":{"code":404,"status":"NOT_FOUND","details":[{"errorCode":"UNREGISTERED"}]}}"#), tokenTrait: "push_token")
        #expect(gone.reason.flatMap(RecipientFeedback.init(reason:)) == .deviceTokenUnregistered(trait: "push_token"))
    }
}

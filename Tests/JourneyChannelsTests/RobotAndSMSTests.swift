import Foundation
import JourneyCore
import Testing

@testable import JourneyChannels

/// The chat robots and SMS against receivers that check what their providers check.
@Suite struct RobotAndSMSTests {
    @Test func weComGetsTextWithMentionsAndItsKey() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestHTTPServer({ _ in .ok(#"{"errcode":0,"errmsg":"ok"}"#) }) { server in
                let wecom = try await channel(
                    "wecom", in: dir, options: ["base_url": .string(server.url), "allow_private": true, "mentioned_list": ["@all"]],
                    secrets: ["key": "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"])
                #expect(await wecom.adapter.deliver(sampleMessage()) == .sent(providerMessageID: nil))
                let request = try #require(server.requests.first)
                #expect(request.path == "/cgi-bin/webhook/send")
                #expect(request.query["key"] == "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa")
                let json = try #require(request.json)
                #expect(json["msgtype"] as? String == "text")
                let text = try #require(json["text"] as? [String: Any])
                #expect(text["content"] as? String == "Hi Ada,\nyour cart is waiting.")
                #expect(text["mentioned_list"] as? [String] == ["@all"])
            }
        }
    }

    @Test func weComMarkdownIsCutToItsLimitAndItsRateLimitErrorThrottles() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestHTTPServer({ request in
                request.bodyText.contains("busy") ? .ok(#"{"errcode":45009,"errmsg":"api freq out of limit"}"#) : .ok(#"{"errcode":0,"errmsg":"ok"}"#)
            }) { server in
                let wecom = try await channel(
                    "wecom", in: dir, options: ["base_url": .string(server.url), "allow_private": true, "format": "markdown"], secrets: ["key": "k-123456"])
                let long = String(repeating: "长", count: 2000)  // 6000 bytes of UTF-8
                #expect(await wecom.adapter.deliver(sampleMessage(text: long)) == .sent(providerMessageID: nil))
                let content = try #require((server.requests[0].json?["markdown"] as? [String: Any])?["content"] as? String)
                #expect(content.utf8.count <= 4096 && content.hasSuffix("…") && content.hasPrefix("长长"))
                #expect(await wecom.adapter.deliver(sampleMessage(text: "busy")) == .throttle(for: .minutes(1), reason: "WeCom errcode 45009: api freq out of limit"))
            }
        }
    }

    @Test func dingTalkSignsEveryRequestTheWayDingTalkChecks() async throws {
        let secret = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
        try await withTemporaryDirectory { dir in
            try await withTestHTTPServer({ request in
                // What DingTalk does: recompute the signature from the timestamp and the robot's secret.
                let query = request.query
                guard let ts = query["timestamp"].flatMap({ Int64($0) }), abs(ts - Int64(Date().timeIntervalSince1970 * 1000)) < 3_600_000,
                    query["sign"] == Signatures.dingTalk(secret: secret, timestampMilliseconds: ts)
                else { return .ok(#"{"errcode":310000,"errmsg":"sign not match"}"#) }
                if request.bodyText.contains("too fast") { return .ok(#"{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}"#) }
                return .ok(#"{"errcode":0,"errmsg":"ok"}"#)
            }) { server in
                let dingtalk = try await channel(
                    "dingtalk", in: dir,
                    options: ["base_url": .string(server.url), "allow_private": true, "format": "markdown", "at_mobiles": ["13800000000"]],
                    secrets: ["access_token": "tok-abc", "secret": secret])
                #expect(await dingtalk.adapter.deliver(sampleMessage()) == .sent(providerMessageID: nil))
                let request = try #require(server.requests.first)
                #expect(request.path == "/robot/send" && request.query["access_token"] == "tok-abc")
                let json = try #require(request.json)
                #expect(json["msgtype"] as? String == "markdown")
                let markdown = try #require(json["markdown"] as? [String: Any])
                #expect(markdown["title"] as? String == "Your cart misses you")
                #expect((json["at"] as? [String: Any])?["atMobiles"] as? [String] == ["13800000000"])
                #expect(
                    await dingtalk.adapter.deliver(sampleMessage(text: "too fast"))
                        == .throttle(for: .minutes(10), reason: "DingTalk errcode 130101: send too fast, exceed 20 times per minute"))

                let wrongSecret = try await channel(
                    "dingtalk", in: dir, options: ["base_url": .string(server.url), "allow_private": true],
                    secrets: ["access_token": "tok-abc", "secret": "SECwrong"])
                #expect(await wrongSecret.adapter.deliver(sampleMessage()) == .disable(reason: "DingTalk errcode 310000: sign not match"))
            }
        }
    }

    @Test func feishuSignsInTheBodyTheWayFeishuChecks() async throws {
        let secret = "feishu-demo-secret"
        try await withTemporaryDirectory { dir in
            try await withTestHTTPServer({ request in
                guard let json = request.json, let ts = (json["timestamp"] as? String).flatMap({ Int64($0) }),
                    abs(ts - Int64(Date().timeIntervalSince1970)) < 3600,
                    json["sign"] as? String == Signatures.feishu(secret: secret, timestampSeconds: ts)
                else { return .ok(#"{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}"#) }
                if request.bodyText.contains("flood") { return .ok(#"{"code":11232,"msg":"frequency limited psm[lark.oapi.app_platform_runtime]appID[1]"}"#) }
                return .ok(#"{"code":0,"data":{},"msg":"success"}"#)
            }) { server in
                let feishu = try await channel(
                    "feishu", in: dir, options: ["base_url": .string(server.url), "allow_private": true],
                    secrets: ["token": "a1b2c3d4-e5f6", "secret": secret])
                #expect(await feishu.adapter.deliver(sampleMessage()) == .sent(providerMessageID: nil))
                let request = try #require(server.requests.first)
                #expect(request.path == "/open-apis/bot/v2/hook/a1b2c3d4-e5f6")
                #expect(request.json?["msg_type"] as? String == "text")
                #expect((request.json?["content"] as? [String: Any])?["text"] as? String == "Hi Ada,\nyour cart is waiting.")
                let flood = await feishu.adapter.deliver(sampleMessage(text: "flood"))
                #expect(kind(flood) == "throttle")
            }
        }
    }

    @Test func slackPostsTextToTheSecretURLAndA404DisablesIt() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestHTTPServer({ request in
                request.path == "/services/T000/B000/XXXX" ? .ok("ok") : .init(status: 404, body: "channel_not_found")
            }) { server in
                let slack = try await channel("slack", in: dir, options: ["allow_private": true], secrets: ["url": server.url + "/services/T000/B000/XXXX"])
                #expect(await slack.adapter.deliver(sampleMessage()) == .sent(providerMessageID: nil))
                #expect(server.requests[0].json?["text"] as? String == "Hi Ada,\nyour cart is waiting.")
                let gone = try await channel("slack", in: dir, options: ["allow_private": true], secrets: ["url": server.url + "/services/T000/B000/GONE"])
                let result = await gone.adapter.deliver(sampleMessage())
                #expect(result == .disable(reason: "HTTP 404 Not Found: channel_not_found"))
            }
        }
    }

    @Test func smsPostsTheTwilioFormWithBasicAuth() async throws {
        try await withTemporaryDirectory { dir in
            try await withTestHTTPServer({ request in
                guard request.header("authorization") == "Basic " + Data("AC123:tw-token-xyz".utf8).base64EncodedString() else {
                    return .init(status: 401, body: #"{"code":20003,"message":"Authenticate","status":401}"#)
                }
                if request.form["To"] == "+15005550001" {
                    return .init(status: 400, body: #"{"code":21211,"message":"The 'To' number +15005550001 is not a valid phone number.","status":400}"#)
                }
                return .init(status: 201, body: #"{"sid":"SM0123","status":"queued"}"#)
            }) { server in
                let sms = try await channel(
                    "sms", in: dir,
                    options: ["base_url": .string(server.url), "allow_private": true, "account_sid": "AC123", "from": "+15005550006"],
                    secrets: ["auth_token": "tw-token-xyz"])
                #expect(await sms.adapter.deliver(sampleMessage()) == .sent(providerMessageID: "SM0123"))
                let request = try #require(server.requests.first)
                #expect(request.path == "/2010-04-01/Accounts/AC123/Messages.json")
                #expect(request.header("content-type") == "application/x-www-form-urlencoded")
                #expect(request.form == ["To": "+4915112345678", "From": "+15005550006", "Body": "Hi Ada,\nyour cart is waiting."])

                let invalid = await sms.adapter.deliver(sampleMessage(phone: "+15005550001"))
                #expect(invalid == .deadLetter(reason: "HTTP 400 Bad Request: Twilio error 21211: The 'To' number <redacted> is not a valid phone number."))
                #expect(await sms.adapter.deliver(sampleMessage(phone: "not a number")) == .deadLetter(reason: #"the user has no E.164 phone number in trait "phone""#))
                #expect(server.requests.count == 2, "no request without a number")

                let wrongToken = try await channel(
                    "sms", in: dir, options: ["base_url": .string(server.url), "allow_private": true, "account_sid": "AC123", "messaging_service_sid": "MG1"],
                    secrets: ["auth_token": "wrong"])
                #expect(kind(await wrongToken.adapter.deliver(sampleMessage())) == "disable")
                #expect(try await server.waitForRequests(3)[2].form["MessagingServiceSid"] == "MG1")
            }
        }
    }
}

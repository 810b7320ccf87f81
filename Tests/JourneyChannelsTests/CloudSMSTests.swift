import Foundation
import JourneyCore
import Testing

@testable import JourneyChannels

/// Alibaba Cloud and Tencent Cloud SMS against a receiver that checks what the providers check.
@Suite struct CloudSMSTests {
    static let aliyunSecret = "CANARYaliyunSecret0x55aa"
    static let tencentKey = "CANARYtencentKey0x77bb"

    static func aliyunOptions(_ peer: CloudPeer) -> Value {
        [
            "base_url": .string(peer.url + "/aliyun"), "allow_private": true, "access_key_id": "LTAI5tTestKey",
            "sign_name": "阿里云短信测试", "template_code": "SMS_154950909",
        ]
    }

    static func tencentOptions(_ peer: CloudPeer) -> Value {
        [
            "base_url": .string(peer.url + "/tencent"), "allow_private": true, "secret_id": "AKIDtestSecretId",
            "sdk_app_id": "1400006666", "sign_name": "腾讯云", "template_id": "449739",
        ]
    }

    static let peerArguments = ["--aliyun", "LTAI5tTestKey:\(aliyunSecret)", "--tencent", "AKIDtestSecretId:\(tencentKey)"]

    static func message(_ phone: String, text: String = "code: 1234\nproduct: 购物车") -> OutboundMessage {
        var message = sampleMessage(phone: phone, text: text)
        message.touch.id = "touch-\(phone.suffix(4))"
        return message
    }

    @Test func aliyunSendsTheSignedSendSmsFormAlibabaChecks() async throws {
        try await withTemporaryDirectory { dir in
            try await withCloudPeer(in: dir, Self.peerArguments) { peer in
                let sms = try await channel("aliyun_sms", in: dir, options: Self.aliyunOptions(peer), secrets: ["access_key_secret": Self.aliyunSecret])
                #expect(await sms.adapter.deliver(Self.message("+8613800138000")) == .sent(providerMessageID: "900619746936498440^0"))
                #expect(await sms.adapter.deliver(Self.message("+85261234567")) == .sent(providerMessageID: "900619746936498440^0"))
                let records = try peer.records()
                try #require(records.count == 2)
                let params = try #require(records[0]["params"] as? [String: String])
                #expect(params["PhoneNumbers"] == "13800138000", "mainland numbers go without +86")
                #expect((records[1]["params"] as? [String: String])?["PhoneNumbers"] == "85261234567")
                #expect(params["SignName"] == "阿里云短信测试" && params["TemplateCode"] == "SMS_154950909")
                #expect(params["TemplateParam"] == #"{"code":"1234","product":"购物车"}"#)
                #expect(params["OutId"] == "touch-8000" && params["Format"] == "JSON" && params["RegionId"] == "cn-hangzhou")
                #expect(Set(params.keys) == [
                    "AccessKeyId", "Action", "Format", "OutId", "PhoneNumbers", "RegionId", "SignName", "SignatureMethod", "SignatureNonce",
                    "SignatureVersion", "TemplateCode", "TemplateParam", "Timestamp", "Version", "Signature",
                ])
                #expect((records[0]["headers"] as? [String: String])?["Content-Type"] == "application/x-www-form-urlencoded")

                let wrongSecret = try await channel("aliyun_sms", in: dir, options: Self.aliyunOptions(peer), secrets: ["access_key_secret": "wrong-secret"])
                #expect(
                    await wrongSecret.adapter.deliver(Self.message("+8613800138000"))
                        == .disable(reason: "Alibaba Cloud SignatureDoesNotMatch: Specified signature is not matched with our calculation."))
            }
        }
    }

    @Test func aliyunErrorCodesMapOntoTheOutcomeTable() async throws {
        try await withTemporaryDirectory { dir in
            try await withCloudPeer(in: dir, Self.peerArguments) { peer in
                let sms = try await channel("aliyun_sms", in: dir, options: Self.aliyunOptions(peer), secrets: ["access_key_secret": Self.aliyunSecret])
                #expect(await sms.adapter.deliver(Self.message("+8613800130001")) == .retry(after: nil, reason: "Alibaba Cloud isp.SYSTEM_ERROR: System error for <redacted>"))
                #expect(await sms.adapter.deliver(Self.message("+8613800130002")) == .deadLetter(reason: "Alibaba Cloud isv.MOBILE_NUMBER_ILLEGAL: Illegal phone number <redacted>"))
                #expect(await sms.adapter.deliver(Self.message("+8613800130004")) == .retry(after: .hours(1), reason: "Alibaba Cloud isv.BUSINESS_LIMIT_CONTROL: 触发号码天级流控Permits:10"))
                #expect(await sms.adapter.deliver(Self.message("+8613800130005")) == .throttle(for: .seconds(1), reason: "Alibaba Cloud Throttling.User: Request was denied due to user flow control."))
                #expect(await sms.adapter.deliver(Self.message("13800138000")) == .deadLetter(reason: #"the user has no E.164 phone number in trait "phone""#))
                #expect(await sms.adapter.deliver(Self.message("+8613800138000", text: "just text")) == .deadLetter(reason: "template parameters: line 1 of the rendered template is not `name: value`"))
                #expect(try peer.records().isEmpty)
            }
        }
        // Codes no peer run shows: the table itself.
        #expect(kind(AliyunSMSAdapter.classify(OutcomeTableTests.response(200, #"{"Code":"isv.AMOUNT_NOT_ENOUGH","Message":"账户余额不足"}"#))) == "disable")
        #expect(kind(AliyunSMSAdapter.classify(OutcomeTableTests.response(404, #"{"Code":"InvalidAccessKeyId.NotFound"}"#))) == "disable")
        #expect(kind(AliyunSMSAdapter.classify(OutcomeTableTests.response(200, #"{"Code":"isv.SMS_TEMPLATE_ILLEGAL"}"#))) == "disable")
        #expect(kind(AliyunSMSAdapter.classify(OutcomeTableTests.response(200, #"{"Code":"isv.DAY_LIMIT_CONTROL"}"#))) == "throttle")
        #expect(kind(AliyunSMSAdapter.classify(OutcomeTableTests.response(200, #"{"Code":"isv.SOMETHING_NEW"}"#))) == "dead letter")
        #expect(kind(AliyunSMSAdapter.classify(OutcomeTableTests.response(503, "<html>busy</html>"))) == "retry")
    }

    @Test func tencentSendsTheTC3SignedRequestTencentChecks() async throws {
        try await withTemporaryDirectory { dir in
            try await withCloudPeer(in: dir, Self.peerArguments) { peer in
                let sms = try await channel("tencent_sms", in: dir, options: Self.tencentOptions(peer), secrets: ["secret_key": Self.tencentKey])
                #expect(await sms.adapter.deliver(Self.message("+8613800138000")) == .sent(providerMessageID: "2028:f825e6b16e23f73f4123"))
                let record = try #require(try peer.records().first)
                #expect(
                    record["body"] as? String
                        == #"{"PhoneNumberSet":["+8613800138000"],"SmsSdkAppId":"1400006666","TemplateId":"449739","TemplateParamSet":["1234","购物车"],"SessionContext":"touch-8000","SignName":"腾讯云"}"#)
                let headers = try #require(record["headers"] as? [String: String])
                #expect(headers["X-TC-Action"] == "SendSms" && headers["X-TC-Version"] == "2021-01-11" && headers["X-TC-Region"] == "ap-guangzhou")
                #expect(headers["Host"] == "127.0.0.1:\(peer.port)" && headers["Content-Type"] == "application/json; charset=utf-8")

                let wrongKey = try await channel("tencent_sms", in: dir, options: Self.tencentOptions(peer), secrets: ["secret_key": "wrong-key"])
                #expect(
                    await wrongKey.adapter.deliver(Self.message("+8613800138000"))
                        == .disable(reason: "Tencent Cloud AuthFailure.SignatureFailure: The provided credentials could not be validated."))
                #expect(await sms.adapter.deliver(Self.message("+8613800130001")) == .retry(after: nil, reason: "Tencent Cloud InternalError.Timeout: timeout for <redacted>"))
                #expect(await sms.adapter.deliver(Self.message("+8613800130002")) == .deadLetter(reason: "Tencent Cloud InvalidParameterValue.IncorrectPhoneNumber: invalid number <redacted>"))
                #expect(await sms.adapter.deliver(Self.message("+8613800130004")) == .retry(after: .hours(1), reason: "Tencent Cloud LimitExceeded.PhoneNumberDailyLimit: the number's daily limit"))
                #expect(kind(await sms.adapter.deliver(Self.message("+8613800130005"))) == "throttle")
                #expect(try peer.records().count == 1)
            }
        }
        #expect(kind(TencentSMSAdapter.classify(OutcomeTableTests.response(200, #"{"Response":{"Error":{"Code":"FailedOperation.TemplateIncorrectOrUnapproved"}}}"#))) == "disable")
        #expect(kind(TencentSMSAdapter.classify(OutcomeTableTests.response(200, #"{"Response":{"Error":{"Code":"UnauthorizedOperation.SmsSdkAppIdVerifyFail"}}}"#))) == "disable")
        #expect(kind(TencentSMSAdapter.classify(OutcomeTableTests.response(200, #"{"Response":{"Error":{"Code":"LimitExceeded.AppDailyLimit"}}}"#))) == "throttle")
        #expect(kind(TencentSMSAdapter.classify(OutcomeTableTests.response(200, #"{"Response":{"Error":{"Code":"AuthFailure.SignatureExpire"}}}"#))) == "retry")
    }

    @Test(arguments: ["aliyun_sms", "tencent_sms"])
    func conformance(_ type: String) async throws {
        try await withTemporaryDirectory { dir in
            try await withCloudPeer(in: dir, Self.peerArguments) { peer in
                let logs = LogCapture()
                let built = try await channel(
                    type, in: dir, options: type == "aliyun_sms" ? Self.aliyunOptions(peer) : Self.tencentOptions(peer),
                    secrets: type == "aliyun_sms" ? ["access_key_secret": Self.aliyunSecret] : ["secret_key": Self.tencentKey], logger: logs)
                let harness = ConformanceHarness(
                    adapter: built.adapter, logs: logs, supports: Set(PeerBehavior.allCases),
                    message: { Self.message(steeringPhone($0)) },
                    waitUntilHanging: { try await Task.sleep(for: .milliseconds(300)) },
                    accepted: { try peer.records().count })
                try await ChannelConformance.check(
                    harness, secrets: [Self.aliyunSecret, Self.tencentKey, "13800130002", "13800130001"])
            }
        }
    }

    @Test func optionsAreCheckedWithKeyPathsAndSuggestions() {
        let aliyun = problems(
            type: "aliyun_sms",
            options: ["access_key_id": "LTAI-x", "access_key_secret": "inline", "sign_name": "店", "template_code": "154950909", "regoin": "cn-beijing"])
        #expect(aliyun.contains { $0.contains("channels[2].access_key_id") && $0.contains("ASCII letters and digits") })
        #expect(aliyun.contains { $0.contains("channels[2].access_key_secret") && $0.contains("not accepted inline") })
        #expect(aliyun.contains { $0.contains("channels[2].template_code") && $0.contains("SMS_154950909") })
        #expect(aliyun.contains { $0.contains("channels[2].regoin") && $0.contains("did you mean \"region\"") })
        let tencent = problems(type: "tencent_sms", options: ["secret_id": "AKID1", "sdk_app_id": "app", "template_id": "449739", "sign_nmae": "x"])
        #expect(tencent.contains { $0.contains("missing secret_key") })
        #expect(tencent.contains { $0.contains("channels[2].sdk_app_id") && $0.contains("digits") })
        #expect(tencent.contains { $0.contains("channels[2].sign_nmae") && $0.contains("did you mean \"sign_name\"") })
    }
}

import Foundation
import Testing

@testable import JourneyChannels

/// The published signing vectors (ecosystem.md §2.2), reproduced exactly.
@Suite struct SigningVectorTests {
    @Test func standardWebhooksSpecVector() {
        let signature = Signatures.standardWebhooks(
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330,
            body: Array(#"{"test": 2432232314}"#.utf8))
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test func standardWebhooksRefusesASecretThatIsNotBase64() {
        #expect(Signatures.standardWebhooks(secret: "whsec_not base64!", id: "x", timestamp: 1, body: [UInt8]()) == nil)
    }

    @Test func githubDocsVector() {
        #expect(
            Signatures.github(secret: "It's a Secret to Everybody", body: Array("Hello, World!".utf8))
                == "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
    }

    @Test func twilioDocsVector() {
        let signature = Signatures.twilio(
            authToken: "12345", url: "https://mycompany.com/myapp.php?foo=1&bar=2",
            parameters: [
                ("CallSid", "CA1234567890ABCDE"), ("Caller", "+12349013030"), ("Digits", "1234"), ("From", "+12349013030"),
                ("To", "+18005551212"),
            ])
        #expect(signature == "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    }

    @Test func stripeStyleVector() {
        let signature = Signatures.stripe(
            secret: "whsec_test", timestamp: 1_700_000_000, body: Array(#"{"event":"Order Completed","userId":"user-42"}"#.utf8))
        #expect(signature == "t=1700000000,v1=f281b0ad60e5367f2f1279681182d2c2200fa746058014f26739694e038d9876")
    }

    @Test func dingTalkVector() {
        let sign = Signatures.dingTalk(secret: "SECxxxxxxxx", timestampMilliseconds: 1_700_000_000_000)
        #expect(Signatures.urlEncoded(sign) == "wdiikfA5ejCHGq%2B0qIy%2BJmIKPDM2cLfvaZZ5oc3nV5o%3D")
    }

    @Test func feishuVector() {
        #expect(Signatures.feishu(secret: "demo-secret", timestampSeconds: 1_700_000_000) == "mYHw2R2SOm8Rw/sne3lQdmz4sOfntKR+1P/8RKKTwmA=")
    }
}

/// The published signing examples of the Chinese clouds, byte for byte.
@Suite struct CloudSigningVectorTests {
    /// Alibaba Cloud SMS, "HTTP协议及签名" (SendSms example): testId / testSecret.
    @Test func aliyunSendSmsDocumentationExample() {
        let parameters: [(String, String)] = [
            ("SignatureMethod", "HMAC-SHA1"), ("SignatureNonce", "45e25e9b-0a6f-4070-8c85-2956eda1b466"), ("AccessKeyId", "testId"),
            ("SignatureVersion", "1.0"), ("Timestamp", "2017-07-12T02:42:19Z"), ("Format", "XML"), ("Action", "SendSms"),
            ("Version", "2017-05-25"), ("RegionId", "cn-hangzhou"), ("PhoneNumbers", "15300000001"), ("SignName", "阿里云短信测试专用"),
            ("TemplateParam", #"{"customer":"test"}"#), ("TemplateCode", "SMS_71390007"), ("OutId", "123"),
        ]
        #expect(
            Signatures.aliyunCanonicalQuery(parameters)
                == "AccessKeyId=testId&Action=SendSms&Format=XML&OutId=123&PhoneNumbers=15300000001&RegionId=cn-hangzhou&SignName=%E9%98%BF%E9%87%8C%E4%BA%91%E7%9F%AD%E4%BF%A1%E6%B5%8B%E8%AF%95%E4%B8%93%E7%94%A8&SignatureMethod=HMAC-SHA1&SignatureNonce=45e25e9b-0a6f-4070-8c85-2956eda1b466&SignatureVersion=1.0&TemplateCode=SMS_71390007&TemplateParam=%7B%22customer%22%3A%22test%22%7D&Timestamp=2017-07-12T02%3A42%3A19Z&Version=2017-05-25")
        #expect(
            Signatures.aliyunStringToSign(method: "GET", parameters: parameters)
                == "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123%26PhoneNumbers%3D15300000001%26RegionId%3Dcn-hangzhou%26SignName%3D%25E9%2598%25BF%25E9%2587%258C%25E4%25BA%2591%25E7%259F%25AD%25E4%25BF%25A1%25E6%25B5%258B%25E8%25AF%2595%25E4%25B8%2593%25E7%2594%25A8%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D45e25e9b-0a6f-4070-8c85-2956eda1b466%26SignatureVersion%3D1.0%26TemplateCode%3DSMS_71390007%26TemplateParam%3D%257B%2522customer%2522%253A%2522test%2522%257D%26Timestamp%3D2017-07-12T02%253A42%253A19Z%26Version%3D2017-05-25")
        #expect(Signatures.aliyunRPC(accessKeySecret: "testSecret", method: "GET", parameters: parameters) == "zJDF+Lrzhj/ThnlvIToysFRq6t4=")
        #expect(Signatures.urlEncoded("zJDF+Lrzhj/ThnlvIToysFRq6t4=") == "zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D")
    }

    /// Alibaba Cloud's RPC signature documentation example (ECS DescribeRegions): testid / testsecret.
    @Test func aliyunRPCDocumentationExample() {
        let parameters: [(String, String)] = [
            ("Timestamp", "2016-02-23T12:46:24Z"), ("Format", "XML"), ("AccessKeyId", "testid"), ("Action", "DescribeRegions"),
            ("SignatureMethod", "HMAC-SHA1"), ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"), ("Version", "2014-05-26"),
            ("SignatureVersion", "1.0"),
        ]
        #expect(Signatures.aliyunRPC(accessKeySecret: "testsecret", method: "GET", parameters: parameters) == "OLeaidS1JvxuMvnyHOwuJ+uX5qY=")
    }

    /// Tencent Cloud API 3.0 signature documentation (签名方法 v3), the CVM DescribeInstances example.
    @Test func tencentTC3DocumentationExample() {
        let body = Array(#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#.utf8)
        let canonical = Signatures.tc3CanonicalRequest(host: "cvm.tencentcloudapi.com", contentType: "application/json; charset=utf-8", body: body)
        #expect(canonical.hasSuffix("\n35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"))
        #expect(Signatures.sha256Hex(canonical.utf8) == "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031")
        #expect(Signatures.tc3Date(1_551_113_065) == "2019-02-25")
        let authorization = Signatures.tencentTC3(
            secretID: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******", secretKey: "Gu5t9xGARNpq86cd98joQYCN3*******", service: "cvm",
            host: "cvm.tencentcloudapi.com", contentType: "application/json; charset=utf-8", timestamp: 1_551_113_065, body: body)
        #expect(
            authorization
                == "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c")
    }
}

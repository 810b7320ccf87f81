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

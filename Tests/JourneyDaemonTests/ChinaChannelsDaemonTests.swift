import Foundation
import JourneyCore
import JourneyEvents
import JourneyStore
import JourneyTesting
import Testing

/// The bundled `order_shipped` journey in the daemon: WeChat template messages for users with an openid,
/// Alibaba Cloud SMS for the others, against receivers that check tokens and signatures as the providers do
/// (`Tests/JourneyChannelsTests/Peers/cloud_peer.py`).
@Suite("Daemon delivery to WeChat with an SMS fallback", .serialized)
struct ChinaChannelsDaemonTests {
    static let wechatSecret = "CANARYdaemonWechatSecret42"
    static let aliyunSecret = "CANARYdaemonAliyunSecret42"

    @Test func touchesGoToWeChatOrFallBackToAliyunSMSWithTheTouchIDsAsKeys() async throws {
        let fixture = try DaemonFixture(events: 0, files: 0, seed: 1)
        defer { fixture.remove() }
        let portFile = fixture.root + "/cloud.port"
        let received = fixture.root + "/cloud.jsonl"
        let peer = try ChildProcess(
            "/usr/bin/env",
            [
                "python3", "-B", repositoryRoot + "/Tests/JourneyChannelsTests/Peers/cloud_peer.py", "--out", received, "--port-file", portFile,
                "--wechat", "wx0123456789abcdef:\(Self.wechatSecret)", "--aliyun", "LTAI5tDaemonKey:\(Self.aliyunSecret)",
            ], output: fixture.root + "/cloud.log")
        // SIGKILL: the test runner's children inherit an ignored SIGTERM, and Python keeps that.
        defer { peer.signal(SIGKILL) }
        #expect(await eventually { FileManager.default.fileExists(atPath: portFile) })
        let url = "http://127.0.0.1:" + ((try? String(contentsOfFile: portFile, encoding: .utf8)) ?? "0")

        // The bundled journey and its templates, with the real adapters instead of the demo's dry-run ones.
        for (from, to) in [
            ("journeys/order_shipped.yaml", "journeys/order_shipped.yaml"), ("templates/shipped_wechat.liquid", "templates/shipped_wechat.liquid"),
            ("templates/shipped_sms.liquid", "templates/shipped_sms.liquid"),
        ] {
            try FileManager.default.copyItem(atPath: repositoryRoot + "/rules/" + from, toPath: fixture.rules + "/" + to)
        }
        try Self.wechatSecret.write(toFile: fixture.rules + "/wechat.secret", atomically: true, encoding: .utf8)
        try Self.aliyunSecret.write(toFile: fixture.rules + "/aliyun.secret", atomically: true, encoding: .utf8)
        try """
        channels:
          - { name: email, type: file, path: touches.jsonl }
          - { name: wecom, type: file, path: touches.jsonl }
          - name: wechat
            type: wechat_template
            app_id: wx0123456789abcdef
            app_secret_file: wechat.secret
            template_id: TPL-order-shipped
            url: https://shop.example/orders
            base_url: "\(url)/wechat"
            allow_private: true
          - name: sms_cn
            type: aliyun_sms
            access_key_id: LTAI5tDaemonKey
            access_key_secret_file: aliyun.secret
            sign_name: 示例商城
            template_code: SMS_154950909
            base_url: "\(url)/aliyun"
            allow_private: true
        """.write(toFile: fixture.rules + "/channels.yaml", atomically: true, encoding: .utf8)

        let daemon = try fixture.startLiveDaemon()
        defer { daemon.signal(SIGKILL) }
        let events = [
            #"{"type":"identify","userId":"wx_buyer","traits":{"wechat_openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","phone":"+8613800138000"},"messageId":"i1","timestamp":"2025-06-02T09:00:00Z"}"#,
            #"{"type":"identify","userId":"sms_buyer","traits":{"phone":"+8613900139000"},"messageId":"i2","timestamp":"2025-06-02T09:00:00Z"}"#,
            #"{"type":"track","userId":"wx_buyer","event":"order_shipped","properties":{"order_id":"20250602001","carrier":"顺丰","item":"羊毛围巾"},"messageId":"t1","timestamp":"2025-06-02T09:00:01Z"}"#,
            #"{"type":"track","userId":"sms_buyer","event":"order_shipped","properties":{"order_id":"20250602002"},"messageId":"t2","timestamp":"2025-06-02T09:00:02Z"}"#,
            // WeChat answers 43004 (not following the account): a consent refusal, recorded on the user.
            #"{"type":"identify","userId":"refuser","traits":{"wechat_openid":"o-refused"},"messageId":"i3","timestamp":"2025-06-02T09:00:00Z"}"#,
            #"{"type":"track","userId":"refuser","event":"order_shipped","properties":{"order_id":"20250602003"},"messageId":"t3","timestamp":"2025-06-02T09:00:03Z"}"#,
        ]
        try fixture.spoolEvent(events.joined(separator: "\n"), named: "1.jsonl")

        func records() -> [Value] {
            ((try? String(contentsOfFile: received, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { try? JSONParser().parse(String($0)) }
        }
        #expect(await eventually { records().count == 2 }, "\(fixture.log)")
        #expect(await eventually { fixture.log.contains("consent refused, recorded on its user") }, "\(fixture.log)")
        daemon.signal()
        #expect(await daemon.exit() == 0)

        let store = try SQLiteCheckpointStore(path: fixture.state)
        let wechatTouch = try #require(try store.outbox(of: "wx_buyer").first)
        let smsTouch = try #require(try store.outbox(of: "sms_buyer").first)
        #expect(wechatTouch.touch.channel == "wechat" && wechatTouch.state == .sent)
        #expect(smsTouch.touch.channel == "sms_cn" && smsTouch.state == .sent)

        let wechat = try #require(records().first { $0["provider"] == "wechat_template" })
        let body = try JSONParser().parse(try #require(wechat["body"]?.stringValue))
        #expect(body["touser"] == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" && body["template_id"] == "TPL-order-shipped")
        #expect(body["client_msg_id"]?.stringValue == wechatTouch.touch.id, "the touch id is WeChat's idempotency key")
        #expect(body["data"]?["thing1"]?["value"] == "羊毛围巾" && body["data"]?["character_string2"]?["value"] == "20250602001")
        #expect(body["data"]?["thing3"]?["value"] == "顺丰")

        let sms = try #require(records().first { $0["provider"] == "aliyun" })
        #expect(sms["params"]?["PhoneNumbers"] == "13900139000")
        #expect(sms["params"]?["OutId"]?.stringValue == smsTouch.touch.id)
        #expect(sms["params"]?["TemplateParam"] == #"{"order":"20250602002","carrier":"快递"}"#)
        let refused = try #require(try store.outbox(of: "refuser").first)
        #expect(refused.state == .deadLetter && refused.reason == "consent refused: WeChat errcode 43004: require subscribe")
        #expect(try store.user("refuser")?.traits["unsubscribed"] == ["wechat"], "the refusal is the user's consent now")
        #expect(!fixture.log.contains(Self.wechatSecret) && !fixture.log.contains(Self.aliyunSecret))
    }
}
